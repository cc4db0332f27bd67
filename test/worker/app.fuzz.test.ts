import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import type { Bindings } from '../../src/env';
import { encryptVault } from '../../src/vault/crypto';
import { VAULT_KEY } from '../../src/vault/store';
import { makeEnv, USER_KEY } from './helpers/env';
import { configureFuzz, floor, runs, timeout } from './helpers/fuzz';
import { GATEWAY_COMPAT, keysOf, sealVault, testConfig, VAULT_TOKEN } from './helpers/vault';

// A fixed seed and size for CI (the coverage floors below cannot flake); `npm run fuzz` explores others.
configureFuzz();

// Property-based tests over paths, methods, headers, bodies and vault texts. For every input:
//   - the worker answers (no unhandled exception), and every error is a JSON error object;
//   - nothing is fetched from a host the vault does not name (nor a non-https URL);
//   - no secret (provider key, user key, vault token, AI Gateway token) is echoed in a response,
//     and the client's credentials never travel upstream.
// The fake upstream answers in turn with success, a stream, errors that echo the key (a 400 answered
// at once, a 429 replayed), a plain-text 500 and a network failure; its rests stay short, so keys keep
// being tried.

const AIG_TOKEN = 'aig-fuzz-token-5f1c9e';
const OTHER_USER_KEY = 'sy-user-key-other-987654321';
const CONFIG = testConfig();
CONFIG.providers.groq = { ...CONFIG.providers.groq, gatewayEndpoint: GATEWAY_COMPAT, gatewayModelPrefix: 'groq' };
// A second key everywhere: while one rests after a failure the other serves, so no case waits.
for (const [id, provider] of Object.entries(CONFIG.providers)) {
  provider.keys = [...(provider.keys as object[]), { key: `fuzz-second-key-${id}-7a3d` }];
}
const SECRETS = [...keysOf(CONFIG), USER_KEY, OTHER_USER_KEY, VAULT_TOKEN, AIG_TOKEN];
const ALLOWED_HOSTS = new Set([...Object.values(CONFIG.providers).map((p) => new URL(p.endpoint as string).host), 'gateway.ai.cloudflare.com']);

const counts = { requests: 0, bodies: 0, headers: 0, operations: 0, headerNames: 0, imageUrls: 0, vaultTexts: 0, vaultConfigs: 0, storedTexts: 0 };
/** Cases that reached the fake upstream, per property. */
const forwarded = { requests: 0, bodies: 0, headers: 0, operations: 0, headerNames: 0 };
let env: Bindings;
let upstreamCalls: { url: string; headers: Headers; body: string }[] = [];

function fakeUpstream() {
  upstreamCalls = [];
  // Each host answers in its own turn, so every provider sees a success among its failures.
  const turns = new Map<string, number>();
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers);
    const body = init?.body == null ? '' : await new Response(init.body).text();
    upstreamCalls.push({ url, headers, body });
    const key = headers.get('x-api-key') ?? headers.get('x-goog-api-key') ?? headers.get('authorization') ?? '';
    const echo = {
      error: {
        message: `Incorrect API key provided: ${key} (gateway ${headers.get('cf-aig-authorization')})`,
        type: 'invalid_request_error',
        code: 'invalid_api_key',
      },
    };
    const host = new URL(url).host;
    const turn = turns.get(host) ?? 0;
    turns.set(host, turn + 1);
    // Failures alternate with successes: with two keys per provider no case waits for a resting key.
    switch (turn % 8) {
      case 1:
        return new Response(`upstream exploded near ${key}`, { status: 500 });
      case 3:
        throw new TypeError('Network connection lost.');
      case 5:
        return Response.json(echo, { status: 400 });
      case 7:
        return Response.json(echo, { status: 429, headers: { 'retry-after': '0' } });
      case 2:
      case 6:
        return new Response('data: {"id":"c","object":"chat.completion.chunk","choices":[]}\n\ndata: [DONE]\n\n', {
          headers: { 'content-type': 'text/event-stream' },
        });
      default:
        return Response.json({
          id: 'chatcmpl-f',
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        });
    }
  });
}

beforeAll(async () => {
  env = await makeEnv({
    config: CONFIG,
    users: { tester: { key: USER_KEY }, other: { key: OTHER_USER_KEY, providers: ['groq'] }, off: { key: 'sy-user-key-disabled-000', disabled: true } },
    vars: { CLOUDFLARE_AIG_TOKEN: AIG_TOKEN, CLOUDFLARE_ACCOUNT_ID: 'acct-fuzz', UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '2000' },
  });
});
afterEach(() => vi.restoreAllMocks());
afterAll(() => {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(
    `fuzz: ${total} cases (${Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}); reached upstream: ${JSON.stringify(forwarded)}`,
  );
});

/** The properties every answer must have. `authorizedVaultRead`: GET /ai.json with the vault token returns the vault by design. */
async function checkAnswer(res: Response, authorizedVaultRead = false, head = false) {
  expect(res.status).toBeGreaterThanOrEqual(100);
  expect(res.status).toBeLessThan(600);
  const text = await res.text();
  if (res.status >= 400 && !head) {
    const body = JSON.parse(text) as { error?: { message?: unknown; type?: unknown; code?: unknown } };
    expect(typeof body.error?.message).toBe('string');
    expect(typeof body.error?.type).toBe('string');
    // `internal_error` is what an unhandled exception becomes.
    expect(body.error?.code, String(body.error?.message)).not.toBe('internal_error');
  }
  if (!authorizedVaultRead) {
    const visible = `${text}\n${[...res.headers].map(([n, v]) => `${n}: ${v}`).join('\n')}`;
    for (const secret of SECRETS) expect(visible).not.toContain(secret);
  }
  for (const call of upstreamCalls) {
    const url = new URL(call.url);
    expect(url.protocol).toBe('https:');
    expect(ALLOWED_HOSTS.has(url.host), call.url).toBe(true);
    const sent = [...call.headers].map(([n, v]) => `${n}: ${v}`).join('\n');
    for (const secret of [USER_KEY, OTHER_USER_KEY, VAULT_TOKEN]) expect(sent).not.toContain(secret);
    for (const name of call.headers.keys())
      expect(name).not.toMatch(/^(cookie|host|x-forwarded-.*|x-real-ip|forwarded|true-client-ip|x-host-final|proxy-authorization)$/);
    for (const name of call.headers.keys()) if (name.startsWith('cf-')) expect(name).toBe('cf-aig-authorization');
  }
}

const SEGMENTS = [
  'groq',
  'GROQ',
  'Groq',
  'openai',
  'anthropic',
  'gemini',
  'mistral',
  'sambanova',
  'sambanova-ai',
  'nope',
  'v1',
  'v1beta',
  'v1alpha',
  'chat',
  'completions',
  'messages',
  'embeddings',
  'models',
  'responses',
  'audio',
  'speech',
  'images',
  'generations',
  'llama-3.3-70b-versatile',
  'gemini-2.0-flash:generateContent',
  'gemini-2.0-flash:streamGenerateContent',
  'claude-sonnet-4-5',
  'ai.json',
  'ai.json.enc',
  'providers',
  '..',
  '.',
  '%2e%2e',
  '%2E',
  '%2F',
  '%2f..%2f',
  '%5C',
  '%00',
  '%0d%0a',
  '',
  '~',
  '@evil.example',
  'evil.example',
  'http:',
  '__proto__',
  'constructor',
  'prototype',
  'gr\u043eq',
  'ｇｒｏｑ',
  'groq\u200b',
  '%67roq',
  '*',
  '?x=1',
  '#frag',
];
const segment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SEGMENTS) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.webSegment() },
);
const randomPath = fc.array(segment, { minLength: 1, maxLength: 7 }).map((parts) => `/${parts.join('/')}`);
const say = (model: string) => ({ model, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
/** Real routes, each with a body it accepts. */
const ROUTES: [string, unknown][] = [
  ['/groq/v1/chat/completions', say('llama-3.3-70b-versatile')],
  ['/openai/v1/chat/completions', say('gpt-4o-mini')],
  ['/openai/v1/embeddings', { model: 'text-embedding-3-small', input: 'hi' }],
  ['/openai/v1/moderations', { input: 'hi' }],
  ['/anthropic/v1/messages', say('claude-sonnet-4-5')],
  ['/gemini/v1beta/models/gemini-2.0-flash:generateContent', { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }],
  ['/mistral/v1/chat/completions', say('mistral-small-latest')],
  ['/v1/providers', null],
  ['/groq/v1/models', null],
  ['/groq/v1/models/llama-3.3-70b-versatile', null],
  ['/v1/chat/completions', say('gpt-4o-mini')],
  ['/v1/messages', say('claude-sonnet-4-5')],
  ['/ai.json', null],
  ['/ai.json.enc', null],
];
const bend = (route: string) =>
  fc.array(fc.tuple(fc.nat(), fc.constantFrom('upper', 'encode', 'insert', 'replace', 'double', 'none'), segment), { maxLength: 2 }).map((edits) => {
    const parts = route.split('/').slice(1);
    for (const [at, edit, extra] of edits) {
      const i = at % parts.length;
      if (edit === 'upper') parts[i] = parts[i]!.toUpperCase();
      else if (edit === 'encode') parts[i] = parts[i]!.replace(/[a-z]/, (ch) => `%${ch.charCodeAt(0).toString(16)}`);
      else if (edit === 'insert') parts.splice(i, 0, extra);
      else if (edit === 'replace') parts[i] = extra;
      else if (edit === 'double') parts.splice(i, 0, '');
    }
    return `/${parts.join('/')}`;
  });
const method = fc.constantFrom('GET', 'POST', 'POST', 'POST', 'PUT', 'OPTIONS', 'DELETE', 'PATCH', 'HEAD');
const headerValue = fc.string({ maxLength: 40 }).map((s) => s.replace(/[^\x20-\x7e]/g, '').trim());
const authorization = fc.oneof(
  { weight: 8, arbitrary: fc.constant(`Bearer ${USER_KEY}`) },
  fc.constant(`Bearer ${OTHER_USER_KEY}`),
  fc.constant('Bearer sy-user-key-disabled-000'),
  fc.constant(`Bearer ${VAULT_TOKEN}`),
  fc.constant(`bearer  ${USER_KEY}`),
  fc.constant(`Basic ${btoa(`x:${USER_KEY}`)}`),
  headerValue.map((v) => `Bearer ${v}`),
  headerValue,
);
const hostFinal = fc.constantFrom(
  'api.groq.com',
  'API.GROQ.COM',
  'https://api.anthropic.com/',
  'generativelanguage.googleapis.com',
  'evil.example',
  'api.groq.com.evil.example',
  'api.groq.com@evil.example',
  '',
  'localhost',
  '127.0.0.1',
);
const clientHeaders = {
  'content-type': fc.constantFrom(
    'application/json',
    'text/plain',
    'multipart/form-data; boundary=x',
    'application/x-www-form-urlencoded',
    'application/json; charset=utf-8',
    '',
  ),
  cookie: headerValue,
  'cf-connecting-ip': fc.constantFrom('203.0.113.7', '2001:db8::1', '198.51.100.23'),
  'cf-aig-authorization': headerValue.map((v) => `Bearer ${v}`),
  'x-forwarded-for': fc.ipV4(),
  'x-forwarded-host': fc.domain(),
  'x-real-ip': fc.ipV4(),
  host: fc.domain(),
  forwarded: headerValue,
  'x-api-key': fc.oneof(headerValue, fc.constant(USER_KEY)),
  'x-goog-api-key': headerValue,
  'anthropic-version': fc.constantFrom('2023-06-01', '2023-01-01', 'x'),
  origin: fc.webUrl(),
};
/** Headers a client might send along a valid call (the legacy X-Host-Final form is fuzzed with the requests). */
const headers = fc.record(clientHeaders, { requiredKeys: [] });
// Wrong credentials lock their address out for a while (the failed-auth guard): these come from
// addresses no other property uses, so that a long run does not lock the others out.
const guessers = fc.constantFrom('192.0.2.10', '192.0.2.11', '2001:db8:fa11::1');
const requestHeaders = fc
  .record({ authorization, ...clientHeaders, 'cf-connecting-ip': guessers, 'x-host-final': hostFinal }, { requiredKeys: ['authorization'] })
  .chain((h) =>
    // X-Host-Final in about one request out of five.
    fc.nat({ max: 4 }).map((n) => (n === 0 ? h : { ...h, 'x-host-final': '' })),
  );
const model = fc.constantFrom(
  'llama-3.3-70b-versatile',
  'groq/llama-3.3-70b-versatile',
  'gpt-4o-mini',
  'claude-sonnet-4-5',
  'gemini-2.0-flash',
  'text-embedding-3-small',
  'nope',
  '',
  '../../x',
);
const chatLike = fc.record(
  {
    model: fc.oneof(model, fc.jsonValue()),
    messages: fc.oneof(fc.constant([{ role: 'user', content: 'hi' }]), fc.jsonValue()),
    stream: fc.boolean(),
    input: fc.jsonValue(),
    max_tokens: fc.oneof(fc.integer(), fc.jsonValue()),
    extra: fc.jsonValue(),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  { weight: 3, arbitrary: chatLike.map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.json() },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constant(null) },
);

/** A real route, bent (a segment changed in case, encoded, doubled, replaced by a trick, one inserted) or not, with its own body or any body; or a random path. */
const target = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(...ROUTES)
      .chain(([route, own]) => fc.tuple(fc.oneof(fc.constant(route), bend(route)), own === null ? body : fc.oneof(fc.constant(JSON.stringify(own)), body))),
  },
  { weight: 1, arbitrary: fc.tuple(randomPath, body) },
);

const validUrl = (p: string) => {
  try {
    new URL(`http://localhost${p}`);
    return true;
  } catch {
    return false;
  }
};

/** A path as the router reads it: percent-decoded too (`/%61i.json` is `/ai.json`). */
function routedPath(p: string) {
  const path = new URL(`http://localhost${p}`).pathname;
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

async function request(p: string, init: RequestInit) {
  upstreamCalls.length = 0;
  const res = await app.request(p, init, env);
  return res;
}

// Timeouts per describe, grown with the fuzz run's size for the smallest property inside (helpers/fuzz.ts).
describe('fuzz', { timeout: timeout(300, 120_000) }, () => {
  it('any path, method, headers and body: JSON errors, no foreign host, no secret echoed', async () => {
    fakeUpstream();
    await fc.assert(
      fc.asyncProperty(target, method, requestHeaders, async ([p, b], m, h) => {
        fc.pre(validUrl(p));
        counts.requests++;
        const init: RequestInit = { method: m, headers: Object.fromEntries(Object.entries(h).filter(([, v]) => v !== '')) };
        if (b !== null && m !== 'GET' && m !== 'HEAD') init.body = b;
        const res = await request(p, init);
        const vaultRead = m === 'GET' && routedPath(p) === '/ai.json' && res.status === 200;
        if (upstreamCalls.length > 0) forwarded.requests++;
        await checkAnswer(res, vaultRead, m === 'HEAD');
      }),
      { numRuns: runs(400) },
    );
    // Deny by default: most bent paths and non-POST methods are refused before anything is sent.
    expect(forwarded.requests).toBeGreaterThan(floor(400, 5));
  });

  it('any body on every forwarding route: a 400 naming the problem or a forward with the body intact', async () => {
    fakeUpstream();
    const routes = [
      '/groq/v1/chat/completions',
      '/openai/v1/embeddings',
      '/anthropic/v1/messages',
      '/gemini/v1beta/models/gemini-2.0-flash:generateContent',
      '/openai/v1/images/generations',
      '/v1/chat/completions',
      '/v1/messages',
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), body, fc.constantFrom('application/json', 'text/plain', undefined), async (route, b, type) => {
        counts.bodies++;
        const init: RequestInit = { method: 'POST', headers: { authorization: `Bearer ${USER_KEY}`, ...(type ? { 'content-type': type } : {}) } };
        if (b !== null) init.body = b;
        const res = await request(route, init);
        if (upstreamCalls.length > 0) forwarded.bodies++;
        await checkAnswer(res);
        // Native routes of providers reached directly pass the body on byte for byte, on every attempt.
        if (!route.startsWith('/v1/') && !route.startsWith('/groq/')) {
          const sent = b === null ? '' : typeof b === 'string' ? b : new TextDecoder().decode(b);
          for (const call of upstreamCalls) expect(call.body).toBe(sent);
        }
      }),
      { numRuns: runs(300) },
    );
    expect(forwarded.bodies).toBeGreaterThan(floor(300, 30));
  });

  it('any client headers on a valid chat call: only the vault credential goes upstream', async () => {
    fakeUpstream();
    await fc.assert(
      fc.asyncProperty(headers, fc.constantFrom('/groq/v1/chat/completions', '/anthropic/v1/messages', '/openai/v1/chat/completions'), async (h, route) => {
        counts.headers++;
        const sent = Object.fromEntries(Object.entries(h).filter(([, v]) => v !== ''));
        const model = route.startsWith('/anthropic') ? 'claude-sonnet-4-5' : route.startsWith('/groq') ? 'llama-3.3-70b-versatile' : 'gpt-4o-mini';
        const res = await request(route, {
          method: 'POST',
          headers: { ...sent, authorization: `Bearer ${USER_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
        });
        if (upstreamCalls.length > 0) forwarded.headers++;
        await checkAnswer(res);
        for (const call of upstreamCalls) {
          const credential = call.headers.get('authorization') ?? call.headers.get('x-api-key');
          expect(keysOf(CONFIG).some((k) => credential?.includes(k))).toBe(true);
        }
      }),
      { numRuns: runs(300) },
    );
    expect(forwarded.headers).toBeGreaterThan(floor(300, 240));
  });
});

/** The operations each protocol forwards (README "Security"), as method + path after the API base. */
const FORWARDED: Record<string, RegExp> = {
  openai:
    /^(POST (chat\/completions|completions|embeddings|images\/generations|images\/edits|audio\/speech|audio\/transcriptions|audio\/translations|moderations|responses)|GET models(\/[^/]+)?)$/,
  anthropic: /^(POST (messages|messages\/count_tokens|chat\/completions)|GET models(\/[^/]+)?)$/,
  gemini:
    /^(POST (models\/[^/:]+:(generateContent|streamGenerateContent|countTokens|embedContent|batchEmbedContents)|openai\/chat\/completions|openai\/embeddings)|GET models(\/[^/]+)?)$/,
};
const PROTOCOL_OF: Record<string, string> = {
  groq: 'openai',
  openai: 'openai',
  mistral: 'openai',
  sambanova: 'openai',
  anthropic: 'anthropic',
  gemini: 'gemini',
};
const LEGACY_HOST: Record<string, [string, string]> = {
  groq: ['api.groq.com', '/openai/v1'],
  openai: ['api.openai.com', '/v1'],
  anthropic: ['api.anthropic.com', '/v1'],
  gemini: ['generativelanguage.googleapis.com', '/v1beta'],
  mistral: ['api.mistral.ai', '/v1'],
};

const OPERATION_WORDS = [
  'chat',
  'completions',
  'embeddings',
  'images',
  'generations',
  'edits',
  'variations',
  'audio',
  'speech',
  'transcriptions',
  'translations',
  'moderations',
  'responses',
  'messages',
  'count_tokens',
  'batches',
  'results',
  'files',
  'content',
  'fine_tuning',
  'jobs',
  'realtime',
  'client_secrets',
  'sessions',
  'uploads',
  'vector_stores',
  'assistants',
  'threads',
  'runs',
  'organization',
  'admin_api_keys',
  'models',
  'gemini-2.0-flash',
  'gemini-2.0-flash:generateContent',
  'gemini-2.0-flash:batchGenerateContent',
  'gemini-2.0-flash:predictLongRunning',
  'text-embedding-004:batchEmbedContents',
  'cachedContents',
  'tunedModels',
  'openai',
  'file-abc',
  'resp_1',
  'msgbatch_1',
  'cancel',
  'input_tokens',
];
const operationPath = fc.oneof(
  fc.array(fc.constantFrom(...OPERATION_WORDS), { minLength: 1, maxLength: 4 }).map((parts) => parts.join('/')),
  fc.constantFrom(
    'chat/completions',
    'messages',
    'messages/count_tokens',
    'embeddings',
    'models/gemini-2.0-flash:generateContent',
    'models/gemini-2.0-flash:countTokens',
    'responses',
    'moderations',
    'models',
  ),
);
const anyMethod = fc.oneof(
  { weight: 3, arbitrary: fc.constant('POST') },
  fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND', 'QUERY'),
);
const MODEL_OF: Record<string, string> = {
  groq: 'llama-3.3-70b-versatile',
  openai: 'gpt-4o-mini',
  anthropic: 'claude-sonnet-4-5',
  gemini: 'gemini-2.0-flash',
  mistral: 'mistral-small-latest',
};

describe('fuzz: operations, methods and headers', { timeout: timeout(150, 120_000) }, () => {
  it('any operation and method, path form and legacy form: forwarded only when the table names it, else a 404 and nothing sent', async () => {
    fakeUpstream();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(LEGACY_HOST)), operationPath, anyMethod, fc.boolean(), async (provider, op, m, legacyForm) => {
        counts.operations++;
        const [host, base] = LEGACY_HOST[provider]!;
        const version = provider === 'gemini' ? 'v1beta' : 'v1';
        const path = legacyForm ? `${base}/${op}` : `/${provider}/${version}/${op}`;
        const init: RequestInit = {
          method: m,
          headers: { authorization: `Bearer ${USER_KEY}`, 'content-type': 'application/json', ...(legacyForm ? { 'x-host-final': host } : {}) },
        };
        if (m !== 'GET' && m !== 'HEAD')
          init.body = JSON.stringify({ model: MODEL_OF[provider], messages: [{ role: 'user', content: 'hi' }], input: 'hi', contents: [] });
        const res = await request(path, init);
        if (upstreamCalls.length > 0) forwarded.operations++;
        await checkAnswer(res, false, m === 'HEAD');
        const known = FORWARDED[PROTOCOL_OF[provider]!]!.test(`${m} ${op}`);
        // The catalog answers GET models itself for the path form; the legacy form forwards it.
        if (!known) {
          expect(upstreamCalls, `${m} ${path}`).toHaveLength(0);
          if (m !== 'OPTIONS' && m !== 'HEAD' && !(m === 'GET' && !legacyForm && /^models(\/|$)/.test(op))) {
            expect(res.status, `${m} ${path}`).toBe(404);
          }
        }
        if (upstreamCalls.length > 0) expect(known, `${m} ${path}`).toBe(true);
        for (const call of upstreamCalls) expect(new URL(call.url).pathname.endsWith(`/${op}`), call.url).toBe(true);
      }),
      { numRuns: runs(300) },
    );
    expect(forwarded.operations).toBeGreaterThan(floor(300, 20));
  });

  const headerName = fc.oneof(
    fc.constantFrom(
      'openai-organization',
      'openai-project',
      'x-goog-user-project',
      'x-http-method-override',
      'x-method-override',
      'x-http-method',
      'x-stainless-os',
      'user-agent',
      'idempotency-key',
      'cf-aig-cache-ttl',
      'cf-aig-skip-cache',
      'cf-aig-metadata',
      'cf-aig-custom-cost',
      'x-goog-api-client',
      'x-goog-request-params',
      'helicone-auth',
      'http-referer',
      'x-title',
      'anthropic-dangerous-direct-browser-access',
      'content-encoding',
      'transfer-encoding',
      'expect',
      'range',
      'if-match',
      'x-original-url',
      'x-rewrite-url',
      'x-envoy-original-path',
    ),
    fc.stringMatching(/^x-[a-z0-9-]{1,20}$/),
  );
  const ALLOWED_UPSTREAM = new Set([
    'content-type',
    'accept',
    'anthropic-version',
    'anthropic-beta',
    'openai-beta',
    'authorization',
    'x-api-key',
    'x-goog-api-key',
    'cf-aig-authorization',
    'content-length',
  ]);

  it("any client header names: only the allow-list and the gateway's own auth reach the provider, only allow-listed provider headers reach the client", async () => {
    upstreamCalls = [];
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      upstreamCalls.push({ url, headers: new Headers(init?.headers), body: '' });
      return Response.json(
        { id: 'chatcmpl-f', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] },
        {
          headers: {
            'openai-organization': 'org-op',
            'openai-project': 'proj_op',
            'x-ratelimit-remaining-tokens': '9',
            'access-control-allow-origin': '*',
            'set-cookie': 'a=b',
            'x-request-id': 'req_up',
          },
        },
      );
    });
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(
          headerName,
          headerValue.filter((v) => v !== ''),
          { maxKeys: 6 },
        ),
        fc.constantFrom('/groq/v1/chat/completions', '/anthropic/v1/messages', '/v1/chat/completions'),
        async (h, route) => {
          counts.headerNames++;
          const model = route.startsWith('/anthropic') ? 'claude-sonnet-4-5' : 'llama-3.3-70b-versatile';
          const res = await request(route, {
            method: 'POST',
            headers: { ...h, authorization: `Bearer ${USER_KEY}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
          });
          if (upstreamCalls.length > 0) forwarded.headerNames++;
          await checkAnswer(res);
          for (const call of upstreamCalls) for (const name of call.headers.keys()) expect(ALLOWED_UPSTREAM.has(name), name).toBe(true);
          for (const name of ['openai-organization', 'openai-project', 'x-ratelimit-remaining-tokens', 'set-cookie'])
            expect(res.headers.has(name), name).toBe(false);
          expect(res.headers.get('x-request-id')).not.toBe('req_up');
        },
      ),
      { numRuns: runs(150) },
    );
    expect(forwarded.headerNames).toBeGreaterThan(floor(150, 100));
  });
});

// Image URLs a client may put in a request for Gemini (which takes only bytes, so the gateway fetches
// them): hosts drawn from a public pool and from every private form the address rules name, with
// schemes, credentials, ports and redirects. The oracle is the pool's label, not the gateway's code.
const PUBLIC_IMAGE_HOSTS = ['images.example.com', 'cdn.example.org', '93.184.216.34', '8.8.8.8', '[2606:4700:4700::1111]', '[2002:5db8:d822::1]'];
const PRIVATE_IMAGE_HOSTS = [
  'localhost',
  'localhost.',
  'LOCALHOST',
  '127.0.0.1',
  '127.1',
  '2130706433',
  '0x7f000001',
  '0177.0.0.1',
  '0.0.0.0',
  '10.0.0.5',
  '172.16.3.4',
  '192.168.1.1',
  '169.254.169.254',
  '100.64.0.1',
  '100.100.100.200',
  '198.18.0.1',
  '224.0.0.1',
  '255.255.255.255',
  '[::1]',
  '[::]',
  '[::ffff:127.0.0.1]',
  '[::ffff:a9fe:a9fe]',
  '[64:ff9b::a9fe:a9fe]',
  '[fc00::1]',
  '[fd00:ec2::254]',
  '[fe80::1]',
  '[ff02::1]',
  '[2001:db8::1]',
  '[2002:7f00:1::1]',
  'metadata.google.internal',
  'printer.local',
  'intranet',
  'metadata',
  'nas.home.arpa',
];
const anyImageUrl = fc.record({
  scheme: fc.constantFrom('https', 'https', 'http', 'ftp', 'file', 'gopher'),
  credentials: fc.constantFrom('', '', '', 'user:pass@', 'x@'),
  host: fc.oneof(fc.constantFrom(...PUBLIC_IMAGE_HOSTS), fc.constantFrom(...PRIVATE_IMAGE_HOSTS)),
  port: fc.constantFrom('', '', '', ':443', ':8080', ':22', ':80'),
  path: fc.constantFrom('/a.png', '/img?size=2', '/'),
});
/** Mostly clean public URLs, so that requests whose every image may be fetched are common too. */
const imageUrl = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      scheme: fc.constantFrom('https', 'http'),
      credentials: fc.constant(''),
      host: fc.constantFrom(...PUBLIC_IMAGE_HOSTS),
      port: fc.constant(''),
      path: fc.constantFrom('/a.png', '/img?size=2', '/'),
    }),
  },
  { weight: 2, arbitrary: anyImageUrl },
);
const imageHref = (u: Record<'scheme' | 'credentials' | 'host' | 'port' | 'path', string>) => `${u.scheme}://${u.credentials}${u.host}${u.port}${u.path}`;
/** Whether the gateway may fetch this URL by the rules (README "Security"), from the pool's labels alone. */
function mayFetch(href: string): boolean {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return false;
  }
  return (
    (url.protocol === 'https:' || url.protocol === 'http:') &&
    url.username === '' &&
    url.password === '' &&
    url.port === '' &&
    PUBLIC_IMAGE_HOSTS.some((host) => new URL(`https://${host}/`).host === url.host)
  );
}

describe('fuzz: image URLs', { timeout: timeout(200, 120_000) }, () => {
  it('any image URL (and redirect) for Gemini: only public http(s) addresses are fetched, each once; anything else is one generic 400', async () => {
    let fetched: string[] = [];
    /** Where each image URL redirects, set per case. */
    let redirects = new Map<string, string>();
    const geminiHost = new URL(CONFIG.providers.gemini!.endpoint as string).host;
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      if (new URL(url).host === geminiHost) {
        return Response.json({ candidates: [{ content: { role: 'model', parts: [{ text: 'ok' }] }, finishReason: 'STOP' }] });
      }
      fetched.push(url);
      const location = redirects.get(url);
      if (location) return new Response(null, { status: 302, headers: { location } });
      return new Response(new Uint8Array([0x89, 0x50, 0x4e, 0x47]), { headers: { 'content-type': 'image/png' } });
    });
    const cases = { ok: 0, refused: 0, redirected: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.array(imageUrl, { minLength: 1, maxLength: 3 }),
        fc.option(imageUrl, { nil: undefined }),
        fc.boolean(),
        async (urls, redirectTo, repeat) => {
          counts.imageUrls++;
          fetched = [];
          const hrefs = urls.map(imageHref);
          if (repeat) hrefs.push(hrefs[0]!);
          // A redirect target has a path no client URL has: every URL the gateway fetches is distinct.
          const target = redirectTo && imageHref({ ...redirectTo, path: '/moved.png' });
          redirects = new Map(target && URL.canParse(hrefs[0]!) ? [[new URL(hrefs[0]!).href, target]] : []);
          const content = [{ type: 'text', text: 'What is this?' }, ...hrefs.map((url) => ({ type: 'image_url', image_url: { url } }))];
          const res = await app.request(
            '/v1/chat/completions',
            {
              method: 'POST',
              headers: { authorization: `Bearer ${USER_KEY}`, 'content-type': 'application/json' },
              body: JSON.stringify({ model: 'gemini/gemini-2.0-flash', messages: [{ role: 'user', content }] }),
            },
            env,
          );
          // Never a fetch the rules forbid, never a URL twice.
          for (const url of fetched) expect(mayFetch(url), url).toBe(true);
          expect(new Set(fetched).size).toBe(fetched.length);
          const everyHopAllowed = hrefs.every(mayFetch) && (!target || mayFetch(target));
          if (everyHopAllowed) {
            expect(res.status).toBe(200);
            cases.ok++;
            if (redirectTo) cases.redirected++;
          } else {
            expect(res.status).toBe(400);
            const { error } = (await res.json()) as { error: { code: string; message: string } };
            expect(['image_unavailable', 'invalid_image_url']).toContain(error.code);
            // One wording: nothing about what answered where.
            expect(error.message).not.toMatch(/\b(302|404|ECONN|refused|timed out|redirect)/i);
            cases.refused++;
          }
        },
      ),
      { numRuns: runs(200) },
    );
    // The property saw both sides, redirects included.
    expect(cases.ok).toBeGreaterThan(floor(200, 10));
    expect(cases.redirected).toBeGreaterThan(floor(200, 3));
    expect(cases.refused).toBeGreaterThan(floor(200, 50));
  });
});

describe('fuzz: vault texts', { timeout: timeout(30, 180_000) }, () => {
  const put = (text: string) => app.request('/ai.json.enc', { method: 'PUT', headers: { authorization: `Bearer ${VAULT_TOKEN}` }, body: text }, env);

  const base64ish = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.base64String({ maxLength: 400 }),
    fc.uint8Array({ minLength: 0, maxLength: 300 }).map((bytes) => btoa(String.fromCharCode(...new TextEncoder().encode('Salted__'), ...bytes))),
  );

  it('a PUT of any text is stored only when it decrypts to a valid AiConfig; otherwise a 4xx naming the problem, and the stored vault stays', async () => {
    const stored = await env.KV_AI_PROXY.get(VAULT_KEY);
    const original = await sealVault(CONFIG);
    const truncated = fc.nat({ max: original.length - 1 }).map((n) => original.slice(0, n));
    const flipped = fc.nat({ max: original.length - 2 }).map((n) => original.slice(0, n) + (original[n] === 'A' ? 'B' : 'A') + original.slice(n + 1));
    await fc.assert(
      fc.asyncProperty(fc.oneof(base64ish, truncated, flipped), async (text) => {
        counts.vaultTexts++;
        const res = await put(text);
        const body = await res.json<{ error?: { message: string; type: string } }>();
        expect(JSON.stringify(body)).not.toContain(VAULT_TOKEN);
        if (res.status === 200) {
          // A flipped ciphertext byte can land inside a JSON string and still decrypt to a valid config.
          expect(await env.KV_AI_PROXY.get(VAULT_KEY)).toBe(text);
          await env.KV_AI_PROXY.put(VAULT_KEY, stored!);
          return;
        }
        expect(res.status >= 400 && res.status < 500, `status ${res.status}`).toBe(true);
        expect(typeof body.error?.message).toBe('string');
        expect(await env.KV_AI_PROXY.get(VAULT_KEY)).toBe(stored);
      }),
      { numRuns: runs(60) },
    );
  });

  it('any encrypted JSON: stored only when it is a valid AiConfig, and then calls go only to hosts it names', async () => {
    const before = await env.KV_AI_PROXY.get(VAULT_KEY);
    const endpoint = fc.oneof(
      fc.webUrl({ validSchemes: ['https'] }),
      fc.constantFrom(
        'http://169.254.169.254/latest',
        'https://api.groq.com/openai/v1',
        'ftp://x',
        'javascript:alert(1)',
        '//evil.example',
        'https://evil.example/v1/chat/completions',
      ),
    );
    const providerConfig = fc.record(
      {
        protocol: fc.constantFrom('openai', 'anthropic', 'gemini', 'groq', '', 'x'),
        endpoint,
        keys: fc.array(fc.record({ key: fc.constantFrom('sk-fuzz-key-a1', 'sk-fuzz-key-b2', ''), type: fc.constantFrom('paid', 'expired') }), { maxLength: 3 }),
        models: fc.array(fc.record({ id: fc.constantFrom('m1', 'llama-3.3-70b-versatile', '') }), { maxLength: 2 }),
      },
      { requiredKeys: ['protocol'] },
    );
    const config = fc.oneof(
      fc.record({
        version: fc.constant(1),
        providers: fc.dictionary(fc.constantFrom('groq', 'Groq', 'evil', 'a b', '__proto__'), providerConfig, { maxKeys: 2 }),
      }),
      fc.jsonValue(),
    );
    try {
      await fc.assert(
        fc.asyncProperty(config, async (value) => {
          counts.vaultConfigs++;
          const res = await put(await encryptVault(JSON.stringify(value), VAULT_TOKEN));
          expect([200, 422]).toContain(res.status);
          if (res.status !== 200) {
            expect(await res.json()).toMatchObject({ error: { type: expect.any(String), message: expect.any(String) } });
            return;
          }
          await res.arrayBuffer();
          fakeUpstream();
          const providers = (value as { providers: Record<string, { endpoint: string }> }).providers;
          for (const [id, provider] of Object.entries(providers)) {
            upstreamCalls.length = 0;
            const chat = await app.request(
              `/${id}/v1/chat/completions`,
              {
                method: 'POST',
                headers: { authorization: `Bearer ${USER_KEY}`, 'content-type': 'application/json' },
                body: JSON.stringify({ model: 'm1', messages: [{ role: 'user', content: 'hi' }] }),
              },
              env,
            );
            const text = await chat.text();
            if (chat.status >= 400) expect(JSON.parse(text)).toHaveProperty('error');
            for (const call of upstreamCalls) expect(new URL(call.url).host).toBe(new URL(provider.endpoint).host);
          }
          vi.restoreAllMocks();
        }),
        { numRuns: runs(30) },
      );
    } finally {
      await env.KV_AI_PROXY.put(VAULT_KEY, before!);
      await put(before!);
    }
  });

  it('a stored vault that cannot be used gives a 500 in the error shape to every user route, and no upstream call', async () => {
    const before = await env.KV_AI_PROXY.get(VAULT_KEY);
    const { clearVaultCache } = await import('../../src/vault/store');
    fakeUpstream();
    try {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.string({ maxLength: 200 }), fc.base64String({ minLength: 4, maxLength: 200 })), async (text) => {
          counts.storedTexts++;
          await env.KV_AI_PROXY.put(VAULT_KEY, text);
          clearVaultCache();
          upstreamCalls.length = 0;
          const res = await app.request(
            '/groq/v1/chat/completions',
            {
              method: 'POST',
              headers: { authorization: `Bearer ${USER_KEY}`, 'content-type': 'application/json' },
              body: JSON.stringify({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'hi' }] }),
            },
            env,
          );
          expect(res.status >= 500 && res.status < 600).toBe(true);
          await checkAnswer(res);
          expect(upstreamCalls).toHaveLength(0);
        }),
        { numRuns: runs(30) },
      );
    } finally {
      await env.KV_AI_PROXY.put(VAULT_KEY, before!);
      clearVaultCache();
    }
  });
});
