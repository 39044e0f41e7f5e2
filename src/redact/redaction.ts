/**
 * Redaction as a feature: the copy of every recorded interaction before it is saved, and every
 * request on both sides of matching, so that a redacted cassette matches the requests that made it.
 * The composition root registers it last: no hook after it can put a credential back.
 */
import type { Feature } from '../exchange/hooks.js';
import type { Redactor } from './redactor.js';

export function redaction(redactor: Redactor): Feature {
  return {
    beforeSave: (interaction) => redactor.redact(interaction),
    beforeMatch: { request: (request) => redactor.redactRequest(request) },
  };
}
