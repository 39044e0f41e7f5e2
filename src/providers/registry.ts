/**
 * Every provider profile the proxy knows. What counts as a credential is the union of what they
 * declare (redact/secrets.ts): a cassette is redacted alike whichever upstream recorded it, and
 * `scan`, which knows no upstream, flags the same.
 */
import { openai } from './openai.js';
import type { ProviderProfile } from './profile.js';

export const PROFILES: readonly ProviderProfile[] = [openai];
