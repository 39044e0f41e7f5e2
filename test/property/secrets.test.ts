/**
 * One definition of a secret, held to by all four of its users with the same generated cases:
 * credentials of every kind (OpenAI sk- and ek_ keys, Google keys, raw tokens, Basic credentials)
 * are planted in every place a client puts them (headers of each kind and casing, query, form,
 * JSON fields holding strings, arrays or objects, after a JSON escape, multipart fields quoted or
 * not) and echoed by the upstream (status line, JSON body, SSE stream, binary body). Then:
 *  (a) the recorder's copy holds none of them (also through a real proxy, every byte it writes);
 *  (b) scan (findLeaks) flags each place they were planted, and their echoes on their own;
 *  (c) the `redact` command's result has no findings, and redacting it again changes nothing;
 *  (d) replay matching of the original request against the redacted recording still hits.
 * And what is not a secret (AWS SigV4 SignedHeaders names, short cookie values, prose such as
 * "Key points") is never masked out of a response body.
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type { NewInteraction } from '../../src/cassette/types.js';
import { cassetteText, serializeInteraction } from '../../src/cassette/codec.js';
import { Hooks } from '../../src/exchange/hooks.js';
import { RequestViewer } from '../../src/match/request-view.js';
import { toInteraction } from '../../src/record/capture.js';
import { findLeaks } from '../../src/redact/leaks.js';
import { redaction } from '../../src/redact/redaction.js';
import { Redactor } from '../../src/redact/redactor.js';
import { FakeUpstream } from '../support/fake-upstream.js';
import { startTestProxy } from '../support/proxy.js';

const CUSTOM_HEADER = 'X-Team-Secret';
const EXTRA_HEADERS = [CUSTOM_HEADER];

const token = (min: number, max: number): fc.Arbitrary<string> =>
  fc.stringMatching(new RegExp(`^[A-Za-z0-9_-]{${min},${max}}$`)).filter((s) => /[0-9]/.test(s) && /[A-Za-z]/.test(s));
const hex = (length: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`));

type Kind = 'openai' | 'ephemeral' | 'google' | 'raw' | 'basic';
/** Kinds recognised by their shape alone (found and masked even where the client never sent them). */
const SHAPED: readonly Kind[] = ['openai', 'ephemeral', 'google'];

const credentialOf: Record<Kind, fc.Arbitrary<string>> = {
  openai: fc.tuple(fc.constantFrom('', 'proj-', 'svcacct-', 'admin-'), token(20, 80)).map(([variant, tail]) => `sk-${variant}${tail}`),
  ephemeral: hex(32).map((h) => `ek_${h}`),
  google: fc.stringMatching(/^[A-Za-z0-9_-]{35}$/).map((tail) => `AIza${tail}`),
  raw: token(12, 48),
  basic: fc.tuple(token(3, 12), fc.stringMatching(/^[!-~]{8,24}$/)).map(([user, password]) => Buffer.from(`${user}:${password}`).toString('base64')),
};

const randomCase = (name: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((flips) => [...name].map((c, i) => (flips[i] ? c.toUpperCase() : c.toLowerCase())).join(''));

type Placement =
  | { kind: 'header'; name: string; scheme?: string; cookie?: boolean }
  | { kind: 'query'; name: string }
  | { kind: 'json'; path: string[]; wrap: 'string' | 'array' | 'object' | 'nested' }
  | { kind: 'prompt' }
  | { kind: 'multipart'; name: string; quote: string }
  | { kind: 'urlencoded'; name: string };

const SCHEMES = ['Bearer', 'Basic', 'Token', 'Key', 'ApiKey'] as const;
const SCHEME_HEADERS = ['authorization', 'proxy-authorization', 'helicone-auth', 'cf-aig-authorization'];
const RAW_HEADERS = ['api-key', 'x-api-key', 'x-goog-api-key', 'x-portkey-api-key', 'x-portkey-virtual-key', 'ocp-apim-subscription-key', 'x-amz-security-token', 'x-auth-token', CUSTOM_HEADER];

const placementFor = (kind: Kind): fc.Arbitrary<Placement> => {
  const header = fc.oneof(
    fc.tuple(fc.constantFrom(...SCHEME_HEADERS), kind === 'basic' ? fc.constant('Basic') : fc.constantFrom(...SCHEMES)).chain(([name, scheme]) => randomCase(name).map((cased): Placement => ({ kind: 'header', name: cased, scheme }))),
    fc.constantFrom(...RAW_HEADERS, 'cookie').chain((name) => randomCase(name).map((cased): Placement => ({ kind: 'header', name: cased, cookie: name === 'cookie' }))),
  );
  const body = fc.oneof(
    fc.constantFrom('api-key', 'key', 'access_token', 'api_key', 'token', 'password').map((name): Placement => ({ kind: 'query', name })),
    fc
      .tuple(fc.constantFrom('api_key', 'apiKey', 'access_token', 'password', 'client_secret', 'secret'), fc.array(fc.constantFrom('auth', 'config', 'provider'), { maxLength: 2 }), fc.constantFrom('string', 'array', 'object', 'nested') as fc.Arbitrary<'string'>)
      .map(([key, parents, wrap]): Placement => ({ kind: 'json', path: [...parents, key], wrap })),
    fc.tuple(fc.constantFrom('api_key', 'password', 'access_token', 'client_secret'), fc.constantFrom('"', "'", '')).map(([name, quote]): Placement => ({ kind: 'multipart', name, quote })),
    fc.constantFrom('client_secret', 'password', 'api_key', 'key').map((name): Placement => ({ kind: 'urlencoded', name })),
  );
  const options = [header, ...(kind === 'basic' ? [] : [body])];
  return SHAPED.includes(kind) ? fc.oneof(...options, fc.constant<Placement>({ kind: 'prompt' })) : fc.oneof(...options);
};

type Echo = 'status' | 'json' | 'sse' | 'binary';
const echoes: fc.Arbitrary<Echo[]> = fc.subarray(['status', 'json', 'sse', 'binary'] as Echo[]);

const planted = fc.constantFrom(...(Object.keys(credentialOf) as Kind[])).chain((kind) => fc.tuple(fc.constant(kind), credentialOf[kind], placementFor(kind), echoes));

interface ClientRequest {
  /** The credential exactly as the client sent it, which is what an upstream echoes. */
  sent: string;
  path: string;
  query: string;
  headers: Record<string, string>;
  body: string;
}

const BOUNDARY = '----cassette-proxy-test-boundary';

function requestFor(p: Placement, secret: string): ClientRequest {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  let query = '';
  let body = JSON.stringify({ model: 'gpt-4o-mini', input: 'hello' });
  if (p.kind === 'header') headers[p.name] = p.scheme ? `${p.scheme} ${secret}` : p.cookie ? `session=${secret}; theme=dark` : secret;
  if (p.kind === 'query') query = `?${p.name}=${encodeURIComponent(secret)}&model=m`;
  if (p.kind === 'json') {
    const doc: Record<string, unknown> = { model: 'gpt-4o-mini' };
    let at = doc;
    for (const key of p.path.slice(0, -1)) at = (at[key] = {}) as Record<string, unknown>;
    at[p.path.at(-1)!] = { string: secret, array: ['first', secret], object: { value: secret, expires_at: 1756310470 }, nested: [{ value: secret }] }[p.wrap];
    body = JSON.stringify(doc);
  }
  if (p.kind === 'prompt') body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: `echo:my key is\n${secret}` }] });
  if (p.kind === 'multipart') {
    headers['content-type'] = `multipart/form-data; boundary=${BOUNDARY}`;
    const name = `${p.quote}${p.name}${p.quote}`;
    body = [`--${BOUNDARY}`, 'Content-Disposition: form-data; name="model"', '', 'whisper-1', `--${BOUNDARY}`, `Content-Disposition: form-data; name=${name}`, '', secret, `--${BOUNDARY}--`, ''].join('\r\n');
  }
  if (p.kind === 'urlencoded') {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams({ grant_type: 'client_credentials', [p.name]: `${secret}+/=` }).toString();
  }
  return { sent: p.kind === 'urlencoded' ? `${secret}+/=` : secret, path: p.kind === 'prompt' ? '/v1/chat/completions' : '/v1/echo', query, headers, body };
}

/** The places scan must name for a credential planted at `p`. */
function plantedAt(p: Placement): string[] {
  switch (p.kind) {
    case 'header':
      return [`request.headers.${p.name}`];
    case 'query':
      return [`request.url?${p.name}`];
    case 'json':
      return [`request.body.${p.path.at(-1)}`];
    case 'prompt':
      return ['request.body'];
    case 'multipart':
      return [`request.body.${p.name}`];
    case 'urlencoded':
      return [`request.body.${p.name}`, `request.form.${p.name}`];
  }
}

/** An exchange as the forwarder captures it, made into an interaction by the recorder's own code. */
function exchange(request: ClientRequest, echo: readonly Echo[], secret = request.sent): NewInteraction {
  const rawHeaders = Object.entries(request.headers).flat();
  const said = `Incorrect API key provided:\n${secret}`;
  let body: Buffer;
  let type = 'application/json';
  if (echo.includes('sse')) {
    type = 'text/event-stream';
    body = Buffer.from(`data: ${JSON.stringify({ delta: { content: said } })}\n\ndata: [DONE]\n\n`);
  } else if (echo.includes('binary')) {
    type = 'application/vnd.amazon.eventstream';
    body = Buffer.concat([Buffer.from([0, 0, 0, 0xff, 0x00]), Buffer.from(`:content-type application/json ${secret} `), Buffer.from([0xfe, 0x80])]);
  } else {
    body = Buffer.from(JSON.stringify({ error: { message: echo.includes('json') ? said : 'no' } }));
  }
  return toInteraction({
    method: 'POST',
    url: `https://api.example.com${request.path}${request.query}`,
    rawHeaders,
    body: Buffer.from(request.body),
    durationNs: 1_000_000n,
    response: {
      httpVersionMajor: 1,
      httpVersionMinor: 1,
      statusCode: echo.includes('status') ? 401 : 200,
      statusMessage: echo.includes('status') ? `Invalid credential ${secret}` : 'OK',
      rawHeaders: ['Content-Type', type],
      body,
      decoded: false,
    },
  });
}

/** Every form the credential could take on disk. */
function forms(secret: string): string[] {
  return [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)];
}

/** What a cassette would hold: the YAML text, and every field (binary bodies as latin1). */
function writtenText(interaction: NewInteraction): string {
  const binary = [interaction.request.body, interaction.response.body].filter((b) => b instanceof Uint8Array).map((b) => Buffer.from(b as Uint8Array).toString('latin1'));
  return [cassetteText([serializeInteraction({ ...interaction, id: 0 })]), JSON.stringify(interaction), ...binary].join('\n');
}

const redactor = new Redactor({ headers: EXTRA_HEADERS });

const sameWhere = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

test('recorder, scan, redact and replay matching agree on every generated credential', () => {
  fc.assert(
    fc.property(planted, ([kind, secret, where, echo]) => {
      const request = requestFor(where, secret);
      const original = exchange(request, echo);
      const context = `${kind} ${JSON.stringify(where)} echoed in ${echo.join(',') || 'nothing'}`;

      // (a) the recorder's copy holds none of it
      const recorded = redactor.redact(original);
      const text = writtenText(recorded);
      for (const form of forms(secret)) assert.ok(!text.includes(form), `${context}: the redacted copy holds ${form}`);

      // (b) scan names every place it was planted, and each echo
      const found = findLeaks(original, EXTRA_HEADERS).map((leak) => leak.where);
      const expected = [...plantedAt(where), ...(echo.includes('status') ? ['response.status'] : []), ...(echo.some((e) => e !== 'status') ? ['response.body'] : [])];
      for (const place of expected) assert.ok(found.some((w) => sameWhere(w, place)), `${context}: scan does not name ${place} (found ${found.join(', ')})`);

      // (c) what redact writes has no findings left, and redacting it again changes nothing (its markers stay)
      assert.deepEqual(findLeaks(recorded, EXTRA_HEADERS), [], context);
      assert.deepEqual(redactor.redact(recorded), recorded, context);

      // (d) the client's original request still matches the redacted recording
      const viewer = new RequestViewer({ ignore: [], headers: where.kind === 'header' ? [where.name] : [], prepare: new Hooks([redaction(redactor)]).beforeMatch });
      const incoming = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value]));
      const live = viewer.key(viewer.view('POST', original.request.url, incoming, Buffer.from(request.body)));
      const replayed = viewer.key(viewer.view('POST', recorded.request.url, recorded.request.headers!, recorded.request.body));
      assert.equal(live, replayed, context);
    }),
    { numRuns: 400 },
  );
});

test('scan finds a credential shape the upstream echoes even when the request was redacted', () => {
  const echoed = fc.oneof(
    fc.constantFrom(...SHAPED).chain((kind) => credentialOf[kind]),
    fc.tuple(fc.constantFrom(...SCHEMES), token(16, 40)).map(([scheme, value]) => `${scheme} ${value}`),
  );
  fc.assert(
    fc.property(echoed, fc.subarray(['status', 'sse', 'binary'] as Echo[], { minLength: 1 }), (secret, echo) => {
      const recorded = redactor.redact(exchange(requestFor({ kind: 'header', name: 'Authorization', scheme: 'Bearer' }, ['sk', 'test', '0'.repeat(18)].join('-')), []));
      const leaky = exchange(requestFor({ kind: 'query', name: 'model' }, 'x'), echo, secret).response;
      const found = findLeaks({ request: recorded.request, response: leaky }).map((leak) => leak.where);
      if (echo.includes('status')) assert.ok(found.includes('response.status'), `${secret} in the status line: ${found}`);
      if (echo.some((e) => e !== 'status')) assert.ok(found.includes('response.body'), `${secret} in the body: ${found}`);
      assert.deepEqual(findLeaks({ request: recorded.request, response: redactor.redact({ ...recorded, response: leaky }).response }), []);
    }),
    { numRuns: 200 },
  );
});

test('names and short values are not secrets: an AWS SigV4 request leaves a binary event stream byte for byte', () => {
  const signedHeaders = fc.subarray(['accept', 'content-type', 'host', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-target', 'x-amzn-bedrock-accept'], { minLength: 1 });
  const accessKeyId = fc.stringMatching(/^[A-Z0-9]{16}$/).map((s) => `AKIA${s}`);
  const prose = fc.tuple(fc.constantFrom('Key', 'Basic', 'Token', 'key', 'token'), fc.stringMatching(/^[a-z]{3,24}$/)).map(([scheme, word]) => `${scheme} ${word}`);
  fc.assert(
    fc.property(signedHeaders, accessKeyId, hex(64), fc.stringMatching(/^[a-z]{1,7}$/), fc.array(prose, { maxLength: 4 }), (names, keyId, signature, short, words) => {
      const auth = `AWS4-HMAC-SHA256 Credential=${keyId}/20240101/us-east-1/bedrock/aws4_request, SignedHeaders=${names.join(';')}, Signature=${signature}`;
      const frame = (headers: string[], payload: string): Buffer =>
        Buffer.concat([Buffer.from([0, 0, 1, 0x2c, 0, 0, 0, 0x51]), ...headers.map((h) => Buffer.from(`\x0b${h}\x07\x00\x10`, 'latin1')), Buffer.from(payload), Buffer.from([0xde, 0xad, 0xbe, 0xef])]);
      const stream = Buffer.concat([
        frame([':content-type', 'application/json', ':event-type', 'chunk', ':message-type', 'event', ...names], `{"bytes":"${Buffer.from(JSON.stringify({ text: words.join(' ') })).toString('base64')}"}`),
        frame([':date', '20240101T000000Z', 'us-east-1', 'bedrock', short], `{"text":"${words.join('\\n')}"}`),
      ]);
      const interaction = toInteraction({
        method: 'POST',
        url: 'https://bedrock-runtime.us-east-1.amazonaws.com/model/m/invoke-with-response-stream',
        rawHeaders: ['Authorization', auth, 'X-Amz-Date', '20240101T000000Z', 'Content-Type', 'application/json', 'Cookie', `lang=${short}`],
        body: Buffer.from('{"prompt":"hi"}'),
        durationNs: 1n,
        response: { httpVersionMajor: 1, httpVersionMinor: 1, statusCode: 200, statusMessage: 'OK', rawHeaders: ['Content-Type', 'application/vnd.amazon.eventstream', 'X-Amzn-Content-Type', 'application/json'], body: stream, decoded: false },
      });
      const out = redactor.redact(interaction);
      assert.ok(Buffer.from(out.response.body as Uint8Array).equals(stream), 'the event stream is unchanged');
      assert.deepEqual(out.response.headers, interaction.response.headers);
      assert.equal(out.request.headers!['Content-Type']![0], 'application/json');
      // The signature and the access key id are the secrets.
      const text = writtenText(out);
      assert.ok(!text.includes(signature) && !text.includes(keyId));
    }),
    { numRuns: 200 },
  );
});

test('through a real proxy: no generated credential reaches any file it writes, and the recording replays', { timeout: 120_000 }, async (t) => {
  const upstream = await FakeUpstream.start();
  t.after(() => upstream.close());
  const recorder = await startTestProxy(t, { upstream: new URL(upstream.url), redactHeaders: EXTRA_HEADERS });
  const player = await startTestProxy(t, { mode: 'replay', upstream: new URL('http://127.0.0.1:9'), cassetteDir: recorder.dir, redactHeaders: EXTRA_HEADERS });
  let run = 0;
  await fc.assert(
    fc.asyncProperty(planted, async ([kind, secret, where]) => {
      const cassette = `prop-${run++}`;
      const { path: route, query, headers, body } = requestFor(where, secret);
      const send = (proxy: typeof recorder): Promise<Response> => fetch(`${proxy.url}${route}${query}`, { method: 'POST', headers: { ...headers, 'x-cassette': cassette }, body });
      const res = await send(recorder);
      assert.equal(res.status, 200);
      const answer = await res.text();
      assert.ok(answer.includes(secret), 'the upstream got the real credential and echoed it');
      if (where.kind === 'header' || where.kind === 'query') assert.ok(res.statusText.includes(secret), 'and echoed it in the status line');
      await recorder.store.flushAll();
      for (const name of await readdir(recorder.dir, { recursive: true })) {
        const bytes = await readFile(path.join(recorder.dir, name)).catch(() => Buffer.alloc(0));
        for (const form of forms(secret)) assert.equal(bytes.indexOf(form), -1, `${name} holds the ${kind} credential placed as ${JSON.stringify(where)}`);
      }
      const replayed = await send(player);
      assert.equal(replayed.status, 200, `the recording of ${JSON.stringify(where)} replays: ${await replayed.clone().text()}`);
      await replayed.arrayBuffer();
    }),
    { numRuns: 60 },
  );
});
