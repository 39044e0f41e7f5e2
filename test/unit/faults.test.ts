/** The fault catalogue, the rules and their seeded choice, the stream helpers, and --faults / --replay-retry-after. */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { UsageError, parseConfig } from '../../src/cli/options.js';
import { ProxyError } from '../../src/errors.js';
import { faultText, parseFaults } from '../../src/faults/catalogue.js';
import { FaultRules, checkRuleSet } from '../../src/faults/rules.js';
import { breakJson, streamFaults } from '../../src/faults/stream.js';
import { openai } from '../../src/providers/openai.js';
import { tempDir } from '../support/paths.js';

const refused = (pattern: RegExp) => (err: unknown) => err instanceof ProxyError && err.code === 'invalid_request' && pattern.test(err.message);

test('faults are parsed as written, alone or several; written back the same way', () => {
  assert.deepEqual(parseFaults('rate-limit', 'h'), [{ kind: 'rate-limit' }]);
  const several = parseFaults(' slow-first-byte=500 , drop-after=3,no-final-event', 'h');
  assert.deepEqual(several, [{ kind: 'slow-first-byte', ms: 500 }, { kind: 'drop-after', events: 3 }, { kind: 'no-final-event' }]);
  assert.equal(several.map(faultText).join(','), 'slow-first-byte=500,drop-after=3,no-final-event');
});

test('an unknown fault, a bad value, a repeat or a combination with an answer-replacing fault is refused, saying where and what', () => {
  assert.throws(() => parseFaults('ratelimit', 'x-cassette-fault'), refused(/^x-cassette-fault: unknown fault "ratelimit"\. The faults are rate-limit, .*slow-first-byte=<ms>.*drop-after=<n>/));
  assert.throws(() => parseFaults('slow-events', 'h'), refused(/slow-events needs a whole number of milliseconds/));
  assert.throws(() => parseFaults('slow-events=-1', 'h'), refused(/whole number/));
  assert.throws(() => parseFaults('drop-after=1.5', 'h'), refused(/drop-after needs a whole number of events/));
  assert.throws(() => parseFaults('timeout=5', 'h'), refused(/timeout takes no value/));
  assert.throws(() => parseFaults('drop-after=1,drop-after=2', 'h'), refused(/drop-after is given twice/));
  assert.throws(() => parseFaults('timeout,slow-events=5', 'h'), refused(/timeout replaces the whole answer/));
  assert.throws(() => parseFaults('', 'h'), refused(/empty fault/));
  assert.throws(() => parseFaults('rate-limit,', 'h'), refused(/empty fault/));
});

test('rules are checked field by field; a missing seed is chosen and shown', () => {
  const set = checkRuleSet({ rules: [{ fault: 'rate-limit', rate: 0.1, path: '/v1/chat/completions', upstream: 'openai', method: 'post' }], seed: 42 });
  assert.deepEqual(set, { rules: [{ fault: 'rate-limit', rate: 0.1, path: '/v1/chat/completions', upstream: 'openai', method: 'POST' }], seed: 42 });
  assert.equal(checkRuleSet({ rules: [{ fault: 'timeout' }] }).rules[0]!.rate, 1, 'rate defaults to every matching request');
  assert.ok(Number.isInteger(checkRuleSet({ rules: [] }).seed));
  assert.throws(() => checkRuleSet([]), refused(/must be a JSON object/));
  assert.throws(() => checkRuleSet({ rules: [], seeds: 1 }), refused(/unknown field seeds/));
  assert.throws(() => checkRuleSet({ rules: [], seed: -1 }), refused(/"seed" must be a whole number/));
  assert.throws(() => checkRuleSet({ rules: [{ fault: 'nope' }] }), refused(/rules\[0\]\.fault: unknown fault "nope"/));
  assert.throws(() => checkRuleSet({ rules: [{ fault: 'timeout', rate: 1.5 }] }), refused(/rules\[0\]\.rate must be a number from 0 to 1/));
  assert.throws(() => checkRuleSet({ rules: [{ fault: 'timeout', path: 'v1' }] }), refused(/rules\[0\]\.path must start with \//));
  assert.throws(() => checkRuleSet({ rules: [{ fault: 'timeout', cassette: 'x' }] }), refused(/rules\[0\] has unknown field cassette/));
});

test('the same rules and seed choose the same requests; each rule counts the requests it matches, by exact path or prefix, upstream and method', () => {
  const set = checkRuleSet({ rules: [{ fault: 'server-error', rate: 0.5, path: '/v1/chat/*' }, { fault: 'timeout', rate: 0.5, method: 'GET', upstream: 'openai' }], seed: 9 });
  const run = (): string[] => {
    const rules = new FaultRules(set);
    return Array.from({ length: 40 }, (_, i) => {
      const facts = i % 2 ? { method: 'POST', path: '/v1/chat/completions', upstream: 'openai' } : { method: 'GET', path: '/v1/models', upstream: 'openai' };
      return rules.choose(facts)?.map(faultText).join() ?? '-';
    });
  };
  const first = run();
  assert.deepEqual(run(), first);
  assert.ok(first.includes('server-error') && first.includes('timeout') && first.includes('-'), first.join(' '));
  // Only its own requests advance a rule: the chat requests get the same choices without the GETs in between.
  const chatOnly = new FaultRules(set);
  const chats = Array.from({ length: 20 }, () => chatOnly.choose({ method: 'POST', path: '/v1/chat/completions', upstream: 'openai' })?.map(faultText).join() ?? '-');
  assert.deepEqual(chats, first.filter((_, i) => i % 2));
  const other = new FaultRules(checkRuleSet({ rules: [{ fault: 'rate-limit', path: '/v1/chat' }], seed: 1 }));
  assert.equal(other.choose({ method: 'POST', path: '/v1/chat/completions', upstream: 'openai' }), undefined, 'a path without * matches exactly');
  const elsewhere = new FaultRules(checkRuleSet({ rules: [{ fault: 'rate-limit', upstream: 'anthropic' }], seed: 1 }));
  assert.equal(elsewhere.choose({ method: 'POST', path: '/v1/chat/completions', upstream: 'openai' }), undefined);
});

test('malformed-event cuts the first JSON data in half; the OpenAI framing knows [DONE] and response.completed as final events', async () => {
  const event = Buffer.from('event: x\r\ndata: {"a":"bc"}\r\n\r\n');
  assert.equal(String(breakJson(event)), 'event: x\r\ndata: {"a":\r\n\r\n');
  assert.equal(breakJson(Buffer.from('data: [DONE]\n\n')), undefined);
  const { isFinal } = openai.framing;
  assert.ok(isFinal(Buffer.from('data: [DONE]\n\n')));
  assert.ok(isFinal(Buffer.from('event: response.completed\ndata: {"type":"response.completed"}\n\n')));
  assert.ok(!isFinal(Buffer.from('data: {"content":"[DONE]"}\n\n')));
  const shaped = streamFaults(parseFaults('malformed-event,no-final-event', 'h'), openai.framing)!;
  const out: string[] = [];
  async function* events(): AsyncGenerator<Uint8Array> {
    yield Buffer.from('data: {"n":1}\n\n');
    yield Buffer.from('data: {"n":2}\n\n');
    yield Buffer.from('data: [DONE]\n\n');
  }
  for await (const e of shaped.transform(events())) out.push(String(e));
  assert.deepEqual(out, ['data: {"n"\n\n', 'data: {"n":2}\n\n']);
  assert.equal(streamFaults(parseFaults('slow-first-byte=5', 'h'), openai.framing), undefined, 'not a fault of the events');
});

test('--faults reads its rules at start; a missing file, bad JSON or bad rules is a usage error naming the flag; --replay-retry-after takes seconds', async (t) => {
  const temp = await tempDir();
  t.after(() => temp.remove());
  const good = path.join(temp.dir, 'faults.json');
  await writeFile(good, JSON.stringify({ rules: [{ fault: 'rate-limit', rate: 0.1 }], seed: 3 }));
  const config = await parseConfig(['--faults', good, '--replay-retry-after', '0']);
  assert.deepEqual(config.faults, { rules: [{ fault: 'rate-limit', rate: 0.1 }], seed: 3 });
  assert.equal(config.replayRetryAfter, 0);
  assert.equal((await parseConfig([])).faults, undefined);
  const notJson = path.join(temp.dir, 'bad.json');
  await writeFile(notJson, '{rules');
  const badRules = path.join(temp.dir, 'rules.json');
  await writeFile(badRules, JSON.stringify({ rules: [{ fault: 'slow' }] }));
  for (const [file, message] of [
    [path.join(temp.dir, 'missing.json'), /--faults \(CASSETTE_PROXY_FAULTS\): cannot read .*missing\.json: ENOENT/],
    [notJson, /is not JSON/],
    [badRules, /rules\[0\]\.fault: unknown fault "slow"/],
  ] as const) {
    await assert.rejects(parseConfig(['--faults', file]), (err: unknown) => err instanceof UsageError && err.flag === 'faults' && message.test(err.message));
  }
  await assert.rejects(parseConfig(['--replay-retry-after', '-1']), (err: unknown) => err instanceof UsageError && err.flag === 'replay-retry-after');
});
