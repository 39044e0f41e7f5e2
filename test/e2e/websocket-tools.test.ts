/**
 * A Realtime session with one tool call, run by the OpenAI Agents SDK's realtime client
 * (`@openai/agents-realtime` 0.14, whose engines allow Node 20): recorded through the proxy against
 * the fake Realtime server, then replayed by a new proxy with no upstream contact.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { RealtimeAgent, RealtimeSession, tool } from '@openai/agents-realtime';
import WebSocket from 'ws';
import { EPHEMERAL_KEY, FakeRealtime } from '../support/fake-realtime.js';
import { makeTestKey } from '../support/fake-upstream.js';
import { cassetteWith, startTestProxy, type TestProxy } from '../support/proxy.js';
import { eventually } from '../support/wait.js';

const KEY = makeTestKey();
const MODEL = 'gpt-realtime';

const wsURL = (proxy: TestProxy): string => `${proxy.url.replace(/^http/, 'ws')}/v1/realtime?model=${MODEL}`;

interface ToolRun {
  /** Every server event the client got, in order. */
  events: any[];
  /** The arguments each tool call was run with. */
  calls: unknown[];
  errors: unknown[];
  /** The ids the client made for its message this run. */
  ids: { event_id: string; item_id: string };
}

/**
 * An agent with one tool: a user message (with an item id and event_id made afresh, as a client
 * does each run), the model calls the tool, the SDK sends its output with the call's call_id and
 * asks for another response, which answers in text. Then the client closes.
 */
async function toolSession(proxy: TestProxy): Promise<ToolRun> {
  const run: ToolRun = { events: [], calls: [], errors: [], ids: { event_id: `evt_${randomUUID()}`, item_id: `item_${randomUUID().slice(0, 8)}` } };
  const weather = tool({
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
    strict: true,
    execute: async (input: any) => {
      run.calls.push(input);
      return `sunny in ${input.city}`;
    },
  } as any);
  const agent = new RealtimeAgent({ name: 'Weather', instructions: 'Use the tool.', tools: [weather] });
  const session = new RealtimeSession(agent, { transport: 'websocket', model: MODEL, config: { outputModalities: ['text'] } });
  session.transport.on('*', (event: any) => run.events.push(event));
  session.on('error', (error) => run.errors.push(error));
  await session.connect({ apiKey: KEY, url: wsURL(proxy) });
  // connect() sends two session.update events (the initial config on open, then the agent's); both are answered before the message.
  await eventually(() => assert.equal(run.events.filter((e) => e.type === 'session.updated').length, 2));
  const text = 'What is the weather in Paris?';
  session.sendMessage(text, { event_id: run.ids.event_id, item: { id: run.ids.item_id, type: 'message', role: 'user', content: [{ type: 'input_text', text }] } });
  await eventually(() => assert.ok(run.events.filter((e) => e.type === 'response.done').length >= 2 || run.events.some((e) => e.type === 'error'), `waiting for two response.done; got ${run.events.map((e) => e.type).join(', ')}`));
  session.close();
  return run;
}

/** Events with the fake's ephemeral key, or the digest marker that replaced it on disk, as one placeholder. */
const masked = (events: any[]): any[] => JSON.parse(JSON.stringify(events).replaceAll(EPHEMERAL_KEY, '[REDACTED]').replace(/\[REDACTED:hmac-sha256:[0-9a-f]{16}\]/g, '[REDACTED]'));

const types = (run: ToolRun): string[] => run.events.map((e) => e.type);

async function recorded(t: TestContext): Promise<{ upstream: FakeRealtime; recorder: TestProxy; first: ToolRun }> {
  const upstream = await FakeRealtime.start();
  t.after(() => upstream.close());
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url) });
  const first = await toolSession(recorder);
  await cassetteWith(recorder, 1);
  return { upstream, recorder, first };
}

const replayer = (t: TestContext, recorder: TestProxy): Promise<TestProxy> => startTestProxy(t, { upstream: new URL('http://127.0.0.1:9'), mode: 'replay', cassetteDir: recorder.dir });

test('@openai/agents-realtime runs a session with one tool call through the proxy, and a new proxy replays it with no upstream contact: same server events, same order, though the client makes new item and event ids', async (t) => {
  const { upstream, recorder, first } = await recorded(t);
  assert.deepEqual(first.errors, []);
  assert.deepEqual(types(first), [
    'session.created', 'session.updated', 'session.updated', 'conversation.item.created',
    'response.created', 'response.output_item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.delta', 'response.function_call_arguments.done', 'response.output_item.done', 'response.done',
    'conversation.item.created',
    'response.created', 'response.output_text.delta', 'response.output_text.delta', 'response.output_text.delta', 'response.done',
  ]);
  assert.deepEqual(first.calls, [{ city: 'Paris' }]);
  const callId = first.events.find((e) => e.type === 'response.function_call_arguments.done').call_id;
  const output = upstream.received.find((e) => e.item?.type === 'function_call_output');
  assert.equal(output.item.call_id, callId, 'the SDK answered the call it was given');
  assert.equal(first.events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join(''), 'Hello (the tool said sunny in Paris)');
  const clientFrames = (await cassetteWith(recorder, 1)).interactions[0].cassette_proxy.websocket.frames.filter((f: any) => f.from === 'client' && f.text).map((f: any) => JSON.parse(f.text));
  const recordedMessage = clientFrames.find((e: any) => e.item?.type === 'message');
  const connections = upstream.connections.length;

  const replay = await replayer(t, recorder);
  const again = await toolSession(replay);
  assert.deepEqual(again.errors, []);
  assert.deepEqual(masked(again.events), masked(first.events), 'the same server events (as redacted on disk), in the same order');
  assert.deepEqual(again.calls, [{ city: 'Paris' }], 'the tool ran again, with the recorded arguments');
  assert.equal(upstream.connections.length, connections, 'no upstream contact');
  // The ids the client made differ between the runs, and matching did not mind.
  assert.deepEqual({ event_id: recordedMessage.event_id, item_id: recordedMessage.item.id }, first.ids, 'the cassette holds the first run\'s ids');
  assert.notEqual(again.ids.event_id, first.ids.event_id);
  assert.notEqual(again.ids.item_id, first.ids.item_id);
});

test('replaying the tool session, a function_call_output for another call_id is a miss naming item.call_id, and the connection closes 1008', async (t) => {
  const { recorder, first } = await recorded(t);
  const callId = first.events.find((e) => e.type === 'response.function_call_arguments.done').call_id;
  const clientFrames: any[] = (await cassetteWith(recorder, 1)).interactions[0].cassette_proxy.websocket.frames.filter((f: any) => f.from === 'client' && f.text).map((f: any) => JSON.parse(f.text));
  const replay = await replayer(t, recorder);
  const ws = new WebSocket(wsURL(replay), { headers: { authorization: `Bearer ${KEY}` } });
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  ws.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise((resolve) => ws.once('open', resolve));
  // The recorded client frames, sent back as a raw client would, with fresh ids and the wrong call_id.
  for (const frame of clientFrames) {
    const event = { ...frame, event_id: `evt_${randomUUID()}` };
    if (event.item?.type === 'function_call_output') event.item = { ...event.item, call_id: `${callId}_other` };
    else if (event.item) event.item = { ...event.item, id: `item_${randomUUID().slice(0, 8)}` };
    ws.send(JSON.stringify(event));
  }
  assert.equal(await closed, 1008);
  const error = messages.find((e) => e.type === 'error');
  assert.equal(error?.error.code, 'cassette_miss');
  assert.match(error.error.message, new RegExp(`\\(conversation\\.item\\.create\\), which differs in 1 field: item\\.call_id: "${callId}" recorded, "${callId}_other" sent`));
  await eventually(() => assert.ok(messages.some((e) => e.type === 'response.function_call_arguments.done'), 'the replay got as far as the call'));
});
