import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import { EXPOSED_HEADERS } from '../../src/middleware/answer-headers';
import { makeEnv, postJson, USER_KEY, userHeaders } from './helpers/env';
import { forbidUpstream, mockUpstream } from './helpers/fetch';
import { mockProviders, providerAnswer } from './helpers/stand-in';

afterEach(() => {
  vi.restoreAllMocks();
});

const preflight = (origin: string, requestHeaders = 'authorization, content-type') => ({
  method: 'OPTIONS',
  headers: {
    origin,
    'access-control-request-method': 'POST',
    'access-control-request-headers': requestHeaders,
  },
});

const exposed = (res: Response) => (res.headers.get('access-control-expose-headers') ?? '').split(',').map((h) => h.trim().toLowerCase());

describe('preflight', () => {
  it.each(['/groq/v1/chat/completions', '/v1/providers', '/ai.json.enc', '/ai.json', '/anything/at/all'])(
    'OPTIONS %s is answered without auth, KV or upstream',
    async (path) => {
      const { calls } = forbidUpstream();
      const env = await makeEnv({ config: null, users: null });
      const res = await app.request(path, preflight('https://app.example', 'authorization, content-type, x-host-final'), env);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-allow-methods')!.split(',')).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT']));
      expect(res.headers.get('access-control-allow-headers')).toBe('authorization,content-type,x-host-final');
      expect(res.headers.get('access-control-max-age')).toBe('86400');
      expect(await res.text()).toBe('');
      expect(calls).toHaveLength(0);
    },
  );

  it('a preflight carrying X-Host-Final for an unknown host is still just a preflight', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    const init = preflight('https://app.example');
    const res = await app.request('/v1/chat/completions', { ...init, headers: { ...init.headers, 'x-host-final': 'evil.example' } }, env);
    expect(res.status).toBe(204);
    expect(calls).toHaveLength(0);
  });
});

describe('allowed origins (CORS_ORIGINS)', () => {
  const vars = { CORS_ORIGINS: 'https://app.example, https://admin.example' };

  it('answers a listed origin with that origin, and Vary: Origin', async () => {
    const env = await makeEnv({ vars });
    for (const origin of ['https://app.example', 'https://admin.example']) {
      const res = await app.request('/v1/providers', preflight(origin), env);
      expect(res.headers.get('access-control-allow-origin')).toBe(origin);
      expect(res.headers.get('vary')).toContain('Origin');
    }
  });

  it('gives an unlisted origin no Access-Control-Allow-Origin, on preflights and on real requests', async () => {
    const env = await makeEnv({ vars });
    const pre = await app.request('/v1/providers', preflight('https://evil.example'), env);
    expect(pre.headers.has('access-control-allow-origin')).toBe(false);
    const res = await app.request('/v1/providers', { headers: { ...userHeaders(), origin: 'https://evil.example' } }, env);
    expect(res.status).toBe(200);
    expect(res.headers.has('access-control-allow-origin')).toBe(false);
  });

  it('defaults to any origin (*)', async () => {
    const env = await makeEnv({ vars: { CORS_ORIGINS: undefined } });
    const res = await app.request('/v1/providers', preflight('https://whoever.example'), env);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('responses a browser can read', () => {
  it('a proxied answer carries the allow-origin, the exposed headers and a request id', async () => {
    mockProviders();
    const env = await makeEnv({ vars: { CORS_ORIGINS: 'https://app.example' } });
    const res = await app.request(
      '/groq/v1/chat/completions',
      postJson({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'hi' }] }, userHeaders(undefined, { origin: 'https://app.example' })),
      env,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(exposed(res)).toEqual(
      expect.arrayContaining([
        'x-request-id',
        'x-ratelimit-limit',
        'x-ratelimit-remaining',
        'x-ratelimit-reset',
        'retry-after',
        'x-switchyard-dropped-tools',
        'x-switchyard-route',
      ]),
    );
    expect(exposed(res)).toEqual(EXPOSED_HEADERS.map((h) => h.toLowerCase()));
    expect(res.headers.get('x-request-id')).toMatch(/^[\w-]{8,}$/);
  });

  // The forward step makes a proxied answer with the headers known by then; the rest are set after.
  it('a proxied answer carries each of its headers once, with its own values', async () => {
    mockProviders();
    const env = await makeEnv({ vars: { CORS_ORIGINS: 'https://app.example, https://admin.example' }, users: { tester: { key: USER_KEY, rpm: 100 } } });
    const body = { model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'hi' }] };
    const headers = userHeaders(undefined, { origin: 'https://admin.example', 'x-request-id': 'client-7' });
    const res = await app.request('/groq/v1/chat/completions', postJson(body, headers), env);
    expect(res.status).toBe(200);
    expect(res.headers.get('vary')).toBe('Origin');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://admin.example');
    expect(exposed(res)).toEqual(EXPOSED_HEADERS.map((h) => h.toLowerCase()));
    expect(res.headers.get('x-client-request-id')).toBe('client-7');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-ratelimit-limit')).toBe('100');
    expect(res.headers.get('x-switchyard-attempts')).toBe('1');
    expect(res.headers.get('x-switchyard-cache')).toBe('BYPASS');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it("requests sharing one upstream call each get their own headers, never the first one's", async () => {
    let answer!: () => void;
    const held = new Promise<void>((resolve) => (answer = resolve));
    const { calls } = mockUpstream(async (call) => {
      await held;
      return providerAnswer(call);
    });
    const env = await makeEnv({ vars: { CORS_ORIGINS: 'https://app.example' } });
    const body = { model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: `shared ${crypto.randomUUID()}` }] };
    const cached = { origin: 'https://app.example', 'x-switchyard-cache-ttl': '600' };
    const first = app.request('/groq/v1/chat/completions', postJson(body, userHeaders(undefined, { ...cached, 'x-request-id': 'client-first' })), env);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = app.request('/groq/v1/chat/completions', postJson(body, userHeaders(undefined, cached)), env);
    await new Promise((resolve) => setTimeout(resolve, 20));
    answer();
    const [a, b] = await Promise.all([first, second]);
    expect(calls).toHaveLength(1);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect([a.headers.get('x-switchyard-cache'), b.headers.get('x-switchyard-cache')]).toEqual(['MISS', 'HIT']);
    expect(a.headers.get('x-client-request-id')).toBe('client-first');
    expect(b.headers.get('x-client-request-id')).toBeNull();
    expect(a.headers.get('x-request-id')).not.toBe(b.headers.get('x-request-id'));
    for (const res of [a, b]) {
      expect(res.headers.get('vary')).toBe('Origin');
      expect(exposed(res)).toEqual(EXPOSED_HEADERS.map((h) => h.toLowerCase()));
    }
  });

  it.each([
    ['401', '/v1/providers', { headers: { origin: 'https://app.example' } }, 401],
    ['404', '/nowhere', { headers: { origin: 'https://app.example' } }, 404],
    [
      '400 (unknown X-Host-Final)',
      '/v1/chat/completions',
      { method: 'POST', headers: { origin: 'https://app.example', 'x-host-final': 'evil.example' }, body: '{}' },
      400,
    ],
  ])('an error answer (%s) is readable cross-origin too', async (_, path, init, status) => {
    const env = await makeEnv();
    const res = await app.request(path, init, env);
    expect(res.status).toBe(status);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(exposed(res)).toContain('x-request-id');
    expect(res.headers.get('x-request-id')).toBeTruthy();
  });

  it("answers with the gateway's own X-Request-Id and echoes a client's as X-Client-Request-Id (readable by a browser)", async () => {
    const env = await makeEnv();
    const res = await app.request(
      '/v1/providers',
      { headers: userHeaders(undefined, { 'x-request-id': 'client-trace-42', origin: 'https://app.example' }) },
      env,
    );
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-client-request-id')).toBe('client-trace-42');
    expect(exposed(res)).toContain('x-client-request-id');
  });

  it('drops a client X-Request-Id that is too long or carries characters unsafe in a header or log line', async () => {
    const env = await makeEnv();
    for (const id of ['x'.repeat(129), 'a b', 'a"b', 'a\\nb']) {
      const res = await app.request('/v1/providers', { headers: userHeaders(undefined, { 'x-request-id': id }) }, env);
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers.get('x-client-request-id')).toBeNull();
    }
  });
});
