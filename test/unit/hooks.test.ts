/** The hook points: each composed once, at start, into one function (or none), run in registration order. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NewInteraction } from '../../src/cassette/types.js';
import type { Exchange } from '../../src/exchange/exchange.js';
import { Hooks, type Feature } from '../../src/exchange/hooks.js';

const exchange = {} as Exchange;
const interaction = { request: { url: 'https://api.openai.com/v1/models' } } as NewInteraction;
const tagged = (tag: string) => (i: NewInteraction): NewInteraction => ({ ...i, request: { ...i.request, url: `${i.request.url}/${tag}` } });

test('a point no feature uses is undefined, so that an exchange pays one property check for it', () => {
  const hooks = new Hooks([{}, { beforeSave: tagged('a') }]);
  assert.equal(hooks.afterCapture, undefined);
  assert.equal(hooks.beforeReplay, undefined);
  assert.equal(hooks.beforeRespond, undefined);
  assert.deepEqual(new Hooks([]).beforeMatch, { request: undefined, text: undefined });
});

test('one hook is used as it is; several run in the order their features were registered, each getting what the last returned', () => {
  const only = tagged('only');
  assert.equal(new Hooks([{ afterCapture: only }]).afterCapture, only);
  const features: Feature[] = [{ beforeSave: tagged('a') }, { afterCapture: tagged('x') }, { beforeSave: tagged('b') }];
  assert.equal(new Hooks(features).beforeSave!(interaction, exchange).request.url, 'https://api.openai.com/v1/models/a/b');
  const text = new Hooks([{ beforeMatch: { text: (s) => `${s}1` } }, { beforeMatch: { text: (s) => `${s}2` } }]).beforeMatch.text!;
  assert.equal(text('t'), 't12');
});
