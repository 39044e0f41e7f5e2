/**
 * A fake OpenAI WebSocket upstream on 127.0.0.1, following the documented event shapes.
 * `/v1/realtime`: session.created on connect; session.update → session.updated;
 * input_audio_buffer.append (kept) and .commit → input_audio_buffer.committed;
 * conversation.item.create → conversation.item.created; response.create → response.created, then
 * audio deltas (`response.output_audio.delta`) when the session's output modalities say audio,
 * a function call when the session has tools and no function output came yet
 * (response.output_item.added with a `function_call` item, response.function_call_arguments.delta
 * ×2 and .done with a fresh `call_id` each session, response.output_item.done), text deltas
 * (`response.output_text.delta`, quoting the last function output) otherwise, and response.done.
 * A function_call_output whose call_id it never made gets an `error` event, as the real server checks.
 * `/v1/responses` (WebSocket mode): response.create → response.created, response.output_text.delta ×2, response.completed, each
 * echoing the request's `stream_id`. Test-only events steer faults: `test.close` (close with a
 * code), `test.huge` (a frame of `bytes`), `test.bad_utf8` (a text frame that is not UTF-8).
 */
import { randomBytes } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocketServer, type WebSocket } from 'ws';

/** An ephemeral key the fake puts in session.created, which must never reach a cassette. */
export const EPHEMERAL_KEY = ['ek', randomBytes(16).toString('hex')].join('_');

export interface FakeRealtimeOptions {
  /** Gap between streamed deltas, in ms (to test pacing). */
  deltaGapMs?: number;
}

export class FakeRealtime {
  /** Every upgrade request that reached it. */
  readonly connections: IncomingMessage[] = [];
  /** Every client message it received, parsed. */
  readonly received: any[] = [];
  /** Close codes its sockets saw from the proxy's side. */
  readonly closes: number[] = [];
  private readonly sockets = new Set<WebSocket>();

  private constructor(
    private readonly server: http.Server,
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {}

  static async start(options: FakeRealtimeOptions = {}): Promise<FakeRealtime> {
    const server = http.createServer((_req, res) => res.writeHead(404).end('{"error":{"message":"no HTTP here"}}'));
    const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 30, handleProtocols: (offered) => [...offered][0] ?? false });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const fake = new FakeRealtime(server, wss, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('upgrade', (req: IncomingMessage, socket, head) => {
      fake.connections.push(req);
      if (req.headers.authorization === 'Bearer refuse-me') {
        socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 42\r\n\r\n{"error":{"message":"Incorrect API key."}}');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => fake.session(ws, req, options.deltaGapMs ?? 0));
    });
    return fake;
  }

  private session(ws: WebSocket, req: IncomingMessage, gapMs: number): void {
    this.sockets.add(ws);
    ws.on('close', (code) => {
      this.closes.push(code);
      this.sockets.delete(ws);
    });
    ws.on('error', () => undefined);
    const n = this.connections.length;
    let seq = 0;
    const send = (event: Record<string, unknown>) => ws.send(JSON.stringify({ event_id: `event_${n}_${++seq}`, ...event }));
    const url = new URL(req.url ?? '/', 'http://x');
    const realtime = url.pathname.endsWith('/realtime');
    const session: Record<string, any> = { id: `sess_${n}`, object: 'realtime.session', type: 'realtime', model: url.searchParams.get('model'), output_modalities: ['text'], tools: [], client_secret: { value: EPHEMERAL_KEY } };
    if (realtime) send({ type: 'session.created', session });
    let audioBytes = 0;
    let answeredCall = false;
    const calls = new Set<string>();
    const toolOutputs: string[] = [];
    let responses = 0;
    // Events are handled one at a time, in order, like the real server.
    let chain = Promise.resolve();
    ws.on('message', (data, isBinary) => {
      chain = chain.then(async () => {
        if (isBinary) return;
        let event: any;
        try {
          event = JSON.parse(String(data));
        } catch {
          return send({ type: 'error', error: { type: 'invalid_request_error', code: 'invalid_json', message: 'not JSON' } });
        }
        this.received.push(event);
        const streamId = event.stream_id === undefined ? {} : { stream_id: event.stream_id };
        switch (event.type) {
          case 'session.update':
            Object.assign(session, event.session);
            return send({ type: 'session.updated', session });
          case 'input_audio_buffer.append':
            audioBytes += Buffer.from(event.audio, 'base64').length;
            return;
          case 'input_audio_buffer.commit':
            return send({ type: 'input_audio_buffer.committed', previous_item_id: null, item_id: `item_audio_${n}` });
          case 'conversation.item.create':
            if (event.item?.type === 'function_call_output') {
              // The real server checks that the output answers a call it made.
              if (!calls.has(event.item.call_id)) return send({ type: 'error', error: { type: 'invalid_request_error', code: 'invalid_call_id', message: `no function call with call_id ${event.item.call_id}`, param: 'item.call_id', event_id: event.event_id ?? null } });
              answeredCall = true;
              toolOutputs.push(event.item.output);
            }
            return send({ type: 'conversation.item.created', previous_item_id: null, item: { ...event.item, id: event.item?.id ?? `item_${n}_${seq}`, status: 'completed' } });
          case 'response.create': {
            const id = `resp_${n}_${++responses}`;
            if (!realtime) {
              send({ type: 'response.created', sequence_number: ++seq, response: { id, object: 'response', status: 'in_progress' }, ...streamId });
              for (const delta of ['Hello', ` from ${event.response?.input ?? event.input ?? 'you'}`]) {
                if (gapMs) await sleep(gapMs);
                send({ type: 'response.output_text.delta', sequence_number: ++seq, item_id: `msg_${id}`, output_index: 0, content_index: 0, delta, ...streamId });
              }
              return send({ type: 'response.completed', sequence_number: ++seq, response: { id, object: 'response', status: 'completed' }, ...streamId });
            }
            send({ type: 'response.created', response: { id, object: 'realtime.response', status: 'in_progress' } });
            const item = `item_out_${n}_${responses}`;
            if (session.tools?.length && !answeredCall) {
              // A function call as documented: the item added, its arguments streamed then done, the item done, response.done.
              const call = { id: item, object: 'realtime.item', type: 'function_call', call_id: `call_${n}_${randomBytes(4).toString('hex')}`, name: session.tools[0].name };
              const args = '{"city":"Paris"}';
              calls.add(call.call_id);
              send({ type: 'response.output_item.added', response_id: id, output_index: 0, item: { ...call, status: 'in_progress', arguments: '' } });
              for (const delta of [args.slice(0, 8), args.slice(8)]) {
                if (gapMs) await sleep(gapMs);
                send({ type: 'response.function_call_arguments.delta', response_id: id, item_id: item, output_index: 0, call_id: call.call_id, delta });
              }
              send({ type: 'response.function_call_arguments.done', response_id: id, item_id: item, output_index: 0, call_id: call.call_id, name: call.name, arguments: args });
              send({ type: 'response.output_item.done', response_id: id, output_index: 0, item: { ...call, status: 'completed', arguments: args } });
              return send({ type: 'response.done', response: { id, object: 'realtime.response', status: 'completed', output: [{ ...call, status: 'completed', arguments: args }], usage: { total_tokens: 20 } } });
            }
            const audio = session.output_modalities?.includes('audio');
            for (let i = 0; i < 3; i++) {
              if (gapMs) await sleep(gapMs);
              if (audio) send({ type: 'response.output_audio.delta', response_id: id, item_id: item, output_index: 0, content_index: 0, delta: Buffer.alloc(4800, 0x11 * (i + 1)).toString('base64') });
              else send({ type: 'response.output_text.delta', response_id: id, item_id: item, output_index: 0, content_index: 0, delta: ['Hel', 'lo', audioBytes ? ` (${audioBytes} bytes heard)` : toolOutputs.length ? ` (the tool said ${toolOutputs.at(-1)})` : '!'][i] });
            }
            return send({ type: 'response.done', response: { id, object: 'realtime.response', status: 'completed', output: [], usage: { total_tokens: 12 } } });
          }
          case 'test.close':
            return ws.close(event.code, event.reason);
          case 'test.huge':
            return ws.send(Buffer.alloc(event.bytes, 0x61), { binary: false });
          case 'test.bad_utf8':
            return ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
          default:
            return undefined;
        }
      });
    });
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
