/**
 * Every provider profile the proxy knows. What counts as a credential is the union of what they
 * declare (redact/secrets.ts): a cassette is redacted alike whichever upstream recorded it, and
 * `scan`, which knows no upstream, flags the same.
 */
import { anthropic } from './anthropic.js';
import { azure } from './azure.js';
import { gemini } from './gemini.js';
import { openai } from './openai.js';
import type { ProviderProfile } from './profile.js';

export const PROFILES: readonly ProviderProfile[] = [openai, azure, anthropic, gemini];

/** The profile called `name` (the KIND of --provider), if there is one. */
export function profileNamed(name: string): ProviderProfile | undefined {
  return PROFILES.find((profile) => profile.name === name);
}

/**
 * The profile of an upstream at `url`: the one whose hosts include its host; any other host is
 * taken to speak OpenAI's API, as most servers and gateways do.
 */
export function profileForHost(url: URL): ProviderProfile {
  return PROFILES.find((profile) => profile.hosts.some((host) => host.test(url.hostname))) ?? openai;
}
