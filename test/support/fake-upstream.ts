/**
 * A fake OpenAI on 127.0.0.1 serving realistic responses: the two streamed turns of seed.yaml
 * (a tool call, then the answer), a plain chat completion, a Responses API stream with named
 * events, embeddings, binary audio, transcriptions and file uploads (multipart in, OpenAI's JSON
 * out), a gzip-encoded model list, and OpenAI's 401 error shape. A last chat message `echo:<text>`
 * is streamed back as <text>, word by word; `quote:<text>` is quoted whole (`You said:
 * "quote:<text>". Noted.`), streamed word by word or in one JSON answer.
 * It records every request it sees, can hold a stream after its first event until released, and
 * answers `POST /v1/raw` with its request body as raw bytes (a hostile upstream).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { load } from 'js-yaml';
import { fixture } from './paths.js';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** True when the connection closed before the response was complete. */
  aborted: boolean;
}

/** A key made at run time, so no tracked file ever holds something shaped like a real key. */
export function makeTestKey(): string {
  return ['sk', 'proj', randomBytes(24).toString('hex')].join('-');
}

interface SeedInteraction {
  request: { body: string };
  response: { body: string };
}
const seed = (load(readFileSync(fixture('seed.yaml'), 'utf8')) as { interactions: SeedInteraction[] }).interactions;
export const SEED_TOOL_CALL_STREAM = seed[0]!.response.body;
export const SEED_ANSWER_STREAM = seed[1]!.response.body;
export const SEED_TURN_ONE_REQUEST = JSON.parse(seed[0]!.request.body) as Record<string, unknown>;
export const SEED_TURN_TWO_REQUEST = JSON.parse(seed[1]!.request.body) as Record<string, unknown>;

/** Splits an SSE body into its events, each with its blank line. */
export function sseEvents(body: string): string[] {
  return body.split(/(?<=\n\n)/).filter((e) => e.length > 0);
}

export const AUDIO_BYTES = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 37 + 0xff) % 256));

export interface FakeUpstreamOptions {
  /** Key the fake accepts; any other gets OpenAI's 401. Undefined accepts every key. */
  apiKey?: string;
  /** Pause between SSE events, in ms. */
  eventSpacingMs?: number;
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
}

export class FakeUpstream {
  readonly requests: SeenRequest[] = [];
  /** TCP connections opened to the fake. */
  connections = 0;
  url = '';
  /** When set, streams stop after their first event until the promise resolves. */
  holdAfterFirstEvent: Promise<void> | undefined;
  private readonly server: http.Server;
  /** Upgraded sockets, which the server no longer tracks. */
  private readonly upgraded = new Set<Duplex>();

  constructor(private readonly options: FakeUpstreamOptions = {}) {
    // A client (the proxy) that goes away mid-body ends the handler with an error: nothing to answer.
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res).catch(() => res.destroy());
    this.server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
    this.server.on(options.tls ? 'secureConnection' : 'connection', () => this.connections++);
    // Like OpenAI's Realtime API: a WebSocket upgrade is accepted, and the socket then held open.
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0), aborted: false });
      this.upgraded.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => this.upgraded.delete(socket));
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    });
  }

  static async start(options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
    const fake = new FakeUpstream(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    for (const socket of this.upgraded) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const seen: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0), aborted: false };
    this.requests.push(seen);
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch (err) {
      seen.aborted = true;
      throw err;
    }
    seen.body = Buffer.concat(chunks);
    res.on('close', () => {
      if (!res.writableFinished) seen.aborted = true;
    });

    const auth = req.headers.authorization;
    if (this.options.apiKey && auth !== `Bearer ${this.options.apiKey}`) {
      return json(res, 401, {
        error: { message: 'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
      });
    }
    // OpenAI-compatible paths elsewhere: OpenRouter's /api/v1/…, Azure OpenAI's /openai/deployments/{d}/….
    const path = (req.url ?? '').split('?')[0]!.replace(/^\/api(?=\/v1\/)|^\/openai\/deployments\/[^/]+(?=\/)/, (m) => (m === '/api' ? '' : '/v1'));
    const body = parseJson(seen.body);
    switch (`${req.method} ${path}`) {
      case 'POST /v1/chat/completions': {
        const messages = (body.messages as { role: string; content?: unknown }[]) ?? [];
        const last = messages.at(-1)?.content;
        // A model quoting the prompt back, whole, as models do.
        const quote = typeof last === 'string' && last.startsWith('quote:') ? `You said: "${last}". Noted.` : undefined;
        if (body.stream) {
          if (typeof last === 'string' && last.startsWith('echo:')) return this.stream(res, echoEvents(last.slice(5)));
          if (quote) return this.stream(res, echoEvents(quote));
          return this.stream(res, sseEvents(messages.some((m) => m.role === 'tool') ? SEED_ANSWER_STREAM : SEED_TOOL_CALL_STREAM));
        }
        return json(res, 200, chatCompletion(body, quote));
      }
      case 'POST /v1/responses':
        return this.stream(res, responsesEvents(body));
      case 'POST /v1/embeddings':
        return json(res, 200, {
          object: 'list',
          data: [{ object: 'embedding', index: 0, embedding: embedding(body.encoding_format) }],
          model: body.model,
          usage: { prompt_tokens: 8, total_tokens: 8 },
        });
      case 'POST /v1/audio/speech':
        res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': AUDIO_BYTES.length });
        return void res.end(AUDIO_BYTES);
      case 'GET /v1/models': {
        const list = JSON.stringify({ object: 'list', data: [{ id: 'gpt-4o-mini', object: 'model', created: 1721172741, owned_by: 'system' }] });
        if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
          const zipped = gzipSync(list);
          res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': zipped.length });
          return void res.end(zipped);
        }
        return json(res, 200, JSON.parse(list));
      }
      case 'POST /v1/echo': {
        // Sends back everything it got, in the status line too, as some error pages do: a secret may come back in a response.
        const text = JSON.stringify({ url: req.url, headers: req.headers, body: seen.body.toString('latin1') });
        const status = `OK ${req.url} ${Object.values(req.headers).join(' ')}`.replace(/[^\x20-\x7e]/g, ' ');
        res.writeHead(200, status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        return void res.end(text);
      }
      case 'POST /v1/audio/transcriptions': {
        const form = await formOf(req, seen.body);
        const file = form?.get('file');
        if (!(file instanceof File) || !form?.get('model')) return json(res, 400, invalidUpload("'file' and 'model' are required"));
        // Like OpenAI's `json` response format; the text names the upload, so each file gets its own answer.
        const bytes = Buffer.from(await file.arrayBuffer());
        return json(res, 200, { text: `Transcript of ${file.name}: ${bytes.length} bytes, ${sha256(bytes).slice(0, 12)}.`, usage: { type: 'duration', seconds: 3 } });
      }
      case 'POST /v1/files': {
        const form = await formOf(req, seen.body);
        const file = form?.get('file');
        const purpose = form?.get('purpose');
        if (!(file instanceof File) || typeof purpose !== 'string') return json(res, 400, invalidUpload("'file' and 'purpose' are required"));
        const bytes = Buffer.from(await file.arrayBuffer());
        // OpenAI's FileObject.
        return json(res, 200, { object: 'file', id: `file-${sha256(bytes).slice(0, 22)}`, purpose, filename: file.name, bytes: bytes.length, created_at: 1753124512, expires_at: null, status: 'processed', status_details: null });
      }
      case 'POST /v1/reset':
        // Two events, then the connection drops: a reset mid-stream.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"n":1}\n\n');
        res.write('data: {"n":2}\n\n');
        setTimeout(() => res.socket?.destroy(), 5);
        return;
      case 'POST /v1/hang':
        // Never answers: for the upstream timeout.
        return;
      case 'POST /v1/trickle':
        return this.stream(res, Array.from({ length: 5 }, (_, i) => `data: {"trickle":${i}}\n\n`), 100);
      case 'POST /v1/raw':
        // A hostile upstream: the request body goes back as the whole answer, bytes HTTP forbids
        // included, and the connection is closed after it.
        res.socket?.end(seen.body);
        return;
      case 'POST /v1/slow': {
        // An endless trickle, for clients that walk away mid-stream.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        const timer = setInterval(() => res.write('data: {"tick":true}\n\n'), 10);
        res.on('close', () => clearInterval(timer));
        return;
      }
      default:
        return json(res, 404, { error: { message: `Invalid URL (${req.method} ${path})`, type: 'invalid_request_error', param: null, code: null } });
    }
  }

  private async stream(res: ServerResponse, events: string[], spacingMs = this.options.eventSpacingMs): Promise<void> {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': 'req_fake123' });
    for (const [i, event] of events.entries()) {
      if (res.destroyed) return;
      res.write(event);
      if (i === 0 && this.holdAfterFirstEvent) await this.holdAfterFirstEvent;
      else if (spacingMs) await new Promise((r) => setTimeout(r, spacingMs));
    }
    res.end();
  }
}

/** A multipart request's fields, read by the platform's own parser (undici's), not the proxy's. */
async function formOf(req: IncomingMessage, body: Buffer): Promise<FormData | undefined> {
  try {
    return await new Request('http://fake.invalid/', { method: 'POST', headers: { 'content-type': String(req.headers['content-type']) }, body }).formData();
  } catch {
    return undefined;
  }
}

function invalidUpload(message: string): unknown {
  return { error: { message, type: 'invalid_request_error', param: null, code: null } };
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function parseJson(bytes: Buffer): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A chat stream whose deltas spell out `text`, word by word, so every request gets its own answer. */
function echoEvents(text: string): string[] {
  const chunk = (delta: Record<string, unknown>, finish: string | null) =>
    `data: ${JSON.stringify({ id: 'chatcmpl-echo', object: 'chat.completion.chunk', created: 1753124512, model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  return [chunk({ role: 'assistant', content: '' }, null), ...text.split(/(?= )/).map((w) => chunk({ content: w }, null)), chunk({}, 'stop'), 'data: [DONE]\n\n'];
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'openai-processing-ms': '212', 'x-request-id': 'req_fake456' });
  res.end(text);
}

/** Like OpenAI: floats by default, little-endian float32 in base64 when asked (the Node SDK asks). */
function embedding(format: unknown): number[] | string {
  const values = [0.0023064255, -0.009327292, 0.015797347];
  return format === 'base64' ? Buffer.from(new Float32Array(values).buffer).toString('base64') : values;
}

function chatCompletion(body: Record<string, unknown>, content = 'Hello! How can I help you today?'): unknown {
  return {
    id: 'chatcmpl-Bw1y0JqYJyOzLZ4dLU6g8bVvH2xtz',
    object: 'chat.completion',
    created: 1753124512,
    model: body.model,
    choices: [{ index: 0, message: { role: 'assistant', content, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 9, completion_tokens: 9, total_tokens: 18 },
    service_tier: 'default',
    system_fingerprint: 'fp_34a54ae93c',
  };
}

function responsesEvents(body: Record<string, unknown>): string[] {
  const response = { id: 'resp_6877f1a1', object: 'response', created_at: 1752691105, status: 'in_progress', model: body.model, output: [] };
  const item = { id: 'msg_6877f1a2', type: 'message', status: 'in_progress', role: 'assistant', content: [] };
  const named = (type: string, data: Record<string, unknown>, n: number): string =>
    `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: n, ...data })}\n\n`;
  const deltas = ['Cassettes', ' make', ' tests', ' fast.'];
  return [
    named('response.created', { response }, 0),
    named('response.output_item.added', { output_index: 0, item }, 1),
    ...deltas.map((delta, i) => named('response.output_text.delta', { item_id: item.id, output_index: 0, content_index: 0, delta }, i + 2)),
    named('response.output_text.done', { item_id: item.id, output_index: 0, content_index: 0, text: deltas.join('') }, 6),
    named(
      'response.completed',
      {
        response: {
          ...response,
          status: 'completed',
          output: [{ ...item, status: 'completed', content: [{ type: 'output_text', text: deltas.join(''), annotations: [] }] }],
          usage: { input_tokens: 12, output_tokens: 4, total_tokens: 16 },
        },
      },
      7,
    ),
  ];
}
