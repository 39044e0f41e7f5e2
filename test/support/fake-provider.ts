/** What the per-provider fakes share: a loopback server that records what it saw, and answers helpers. */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SeenRequest } from './fake-upstream.js';

export type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void | Promise<void>;

export class FakeProvider {
  readonly requests: SeenRequest[] = [];
  url = '';
  private constructor(private readonly server: http.Server) {}

  static async start(handler: Handler): Promise<FakeProvider> {
    let fake: FakeProvider | undefined;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        fake!.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, aborted: false });
        Promise.resolve(handler(req, body, res)).catch(() => res.destroy());
      });
    });
    fake = new FakeProvider(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return fake;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Writes each event (string or bytes) with a pause between them, as a live stream would. */
export async function sendEvents(res: ServerResponse, contentType: string, events: (string | Uint8Array)[], spacingMs: number): Promise<void> {
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache' });
  for (const [i, event] of events.entries()) {
    if (res.destroyed) return;
    if (i > 0 && spacingMs > 0) await new Promise((r) => setTimeout(r, spacingMs));
    res.write(event);
  }
  res.end();
}

export function parseBody(body: Buffer): Record<string, any> {
  try {
    return JSON.parse(body.toString('utf8')) as Record<string, any>;
  } catch {
    return {};
  }
}
