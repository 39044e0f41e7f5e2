/**
 * A fake Gemini API in its documented shapes: POST /v1beta/models/{model}:generateContent and
 * :streamGenerateContent?alt=sse (SSE `data:` events, CRLF line ends as Google sends them), the
 * key in x-goog-api-key or ?key=, errors as {"error":{"code","message","status"}}.
 */
import { FakeProvider, sendEvents, sendJson } from './fake-provider.js';

export const GEMINI_TEXT = ['Cassettes', ' replay', ' Gemini', ' too.'];

const chunk = (text: string, last: boolean, model: string) => ({
  candidates: [{ content: { parts: [{ text }], role: 'model' }, ...(last && { finishReason: 'STOP' }), index: 0 }],
  usageMetadata: { promptTokenCount: 5, ...(last && { candidatesTokenCount: 6, totalTokenCount: 11 }) },
  modelVersion: model,
  responseId: 'gm-resp-1',
});

export function startFakeGemini(options: { apiKey?: string; spacingMs?: number } = {}): Promise<FakeProvider> {
  return FakeProvider.start(async (req, _body, res) => {
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const key = req.headers['x-goog-api-key'] ?? url.searchParams.get('key');
    if (options.apiKey && key !== options.apiKey) {
      return sendJson(res, 400, { error: { code: 400, message: 'API key not valid. Please pass a valid API key.', status: 'INVALID_ARGUMENT' } });
    }
    const call = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(url.pathname);
    if (req.method !== 'POST' || !call) return sendJson(res, 404, { error: { code: 404, message: `Method not found: ${url.pathname}`, status: 'NOT_FOUND' } });
    const model = call[1]!;
    if (call[2] === 'generateContent') return sendJson(res, 200, chunk(GEMINI_TEXT.join(''), true, model), { 'content-type': 'application/json; charset=UTF-8' });
    const events = GEMINI_TEXT.map((text, i) => `data: ${JSON.stringify(chunk(text, i === GEMINI_TEXT.length - 1, model))}\r\n\r\n`);
    return sendEvents(res, 'text/event-stream', events, options.spacingMs ?? 0);
  });
}
