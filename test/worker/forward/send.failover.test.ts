import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { postJson } from '../helpers/env';
import { CHAT, completion, faultyUpstream, freshKeys, multiKeyEnv, openaiError } from '../helpers/upstreams';

// Key failover: an attempt that fails before anything reached the client is replayed with the
// provider's next usable key; 4xx that are the client's own are answered at once.

afterEach(() => vi.restoreAllMocks());

const chat = (env: Awaited<ReturnType<typeof multiKeyEnv>>, body: unknown = CHAT) => app.request('/groq/v1/chat/completions', postJson(body), env);

describe('failover across keys', () => {
  it('replays a request refused with 429 + Retry-After with the next key, byte for byte, and rests the refused key', async () => {
    const keys = freshKeys('gsk', 3);
    const env = await multiKeyEnv({ groq: keys });
    let refused: string | undefined;
    const calls = faultyUpstream((call, i) => {
      if (i === 0) {
        refused = call.key;
        return openaiError(429, { 'retry-after': '30' }, 'Rate limit reached');
      }
      return Response.json(completion());
    });
    const body = { ...CHAT, temperature: 0.25, messages: [{ role: 'user', content: 'Grüße, ünïcödé 🚀' }] };
    const res = await chat(env, body);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-attempts')).toBe('2');
    expect(await res.json()).toEqual(completion());
    expect(calls).toHaveLength(2);
    expect(calls[1]!.key).not.toBe(calls[0]!.key);
    expect(calls[1]!.body).toEqual(calls[0]!.body);
    expect(new TextDecoder().decode(calls[1]!.body)).toBe(JSON.stringify(body));

    // For its 30 s of rest, round-robin skips the refused key.
    for (let i = 0; i < 6; i++) expect((await chat(env)).status).toBe(200);
    expect(calls.slice(2).map((c) => c.key)).not.toContain(refused);
    expect(new Set(calls.slice(2).map((c) => c.key)).size).toBe(2);
  });

  it.each([500, 502, 503, 504, 408])('fails over on %i', async (status) => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2) });
    const calls = faultyUpstream((_, i) => (i === 0 ? openaiError(status) : Response.json(completion())));
    const res = await chat(env);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-attempts')).toBe('2');
    expect(calls).toHaveLength(2);
  });

  it('fails over from a revoked key (401) and keeps it resting for later requests', async () => {
    const keys = freshKeys('gsk', 3);
    const env = await multiKeyEnv({ groq: keys });
    const revoked = keys[1]!;
    const calls = faultyUpstream((call) => (call.key === revoked ? openaiError(401, {}, 'Invalid API Key') : Response.json(completion())));
    for (let i = 0; i < 9; i++) {
      const res = await chat(env);
      expect(res.status).toBe(200);
    }
    expect(calls.filter((c) => c.key === revoked)).toHaveLength(1);
    expect(calls).toHaveLength(10);
  });

  it('fails over when fetch itself fails (connection refused, DNS, reset)', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2) });
    const calls = faultyUpstream((_, i) => {
      if (i === 0) throw new TypeError('Network connection lost.');
      return Response.json(completion());
    });
    const res = await chat(env);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-attempts')).toBe('2');
    expect(calls).toHaveLength(2);
  });

  it('fails over on a 200 whose JSON body is cut short', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2) });
    faultyUpstream((_, i) =>
      i === 0 ? new Response(JSON.stringify(completion()).slice(0, 40), { headers: { 'content-type': 'application/json' } }) : Response.json(completion()),
    );
    const res = await chat(env);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(completion());
    expect(res.headers.get('x-switchyard-attempts')).toBe('2');
  });

  it('answers a client error (400, 404, 422) at once, with the provider body, without trying another key', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 3) });
    for (const status of [400, 404, 422]) {
      vi.restoreAllMocks();
      const calls = faultyUpstream(() =>
        Response.json({ error: { message: `provider says ${status}`, type: 'invalid_request_error', code: null } }, { status }),
      );
      const res = await chat(env);
      expect(res.status).toBe(status);
      expect(res.headers.get('x-switchyard-attempts')).toBe('1');
      expect(await res.json()).toMatchObject({ error: { message: `provider says ${status}` } });
      expect(calls).toHaveLength(1);
    }
  });

  it('gives the last upstream answer when every key fails, after one attempt per key', async () => {
    const keys = freshKeys('gsk', 3);
    const env = await multiKeyEnv({ groq: keys });
    const calls = faultyUpstream((_, i) => openaiError(503, { 'retry-after': String(i) }, 'The engine is currently overloaded'));
    const res = await chat(env);
    expect(res.status).toBe(503);
    expect(res.headers.get('x-switchyard-attempts')).toBe('3');
    expect(res.headers.get('retry-after')).toBe('2');
    expect(await res.json()).toMatchObject({ error: { message: 'The engine is currently overloaded' } });
    expect(new Set(calls.map((c) => c.key))).toEqual(new Set(keys));
  });

  it('stops at MAX_ATTEMPTS even when more keys remain', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 5), vars: { MAX_ATTEMPTS: '2' } });
    const calls = faultyUpstream(() => openaiError(500));
    const res = await chat(env);
    expect(res.status).toBe(500);
    expect(res.headers.get('x-switchyard-attempts')).toBe('2');
    expect(calls).toHaveLength(2);
  });

  it('throws 502 in the error shape when no attempt got an answer', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2) });
    faultyUpstream(() => {
      throw new TypeError('fetch failed');
    });
    const res = await chat(env);
    expect(res.status).toBe(502);
    expect(res.headers.get('x-switchyard-attempts')).toBe('2');
    expect(await res.json()).toEqual({ error: { message: 'provider "groq" could not be reached', type: 'upstream_error', code: 'upstream_unreachable' } });
  });

  it('never uses an expired key', async () => {
    const [good] = freshKeys('gsk', 1);
    const [old] = freshKeys('old', 1);
    const env = await multiKeyEnv({ groq: [good!], expired: [old!] });
    const calls = faultyUpstream(() => openaiError(500));
    await chat(env);
    await chat(env);
    expect(calls.map((c) => c.key)).toEqual([good, good]);
  });
});

describe('resting keys', () => {
  it('answers 503 with Retry-After, calling nobody, while every key rests longer than a request may wait', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2) });
    const calls = faultyUpstream(() => openaiError(429, { 'retry-after': '20' }));
    expect((await chat(env)).status).toBe(429);
    expect(calls).toHaveLength(2);
    const res = await chat(env);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(19);
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(20);
    expect(res.headers.get('x-switchyard-attempts')).toBe('0');
    expect(await res.json()).toMatchObject({ error: { code: 'provider_keys_resting' } });
    expect(calls).toHaveLength(2);
  });

  it('waits for a key whose rest ends within a second rather than failing', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 1) });
    const calls = faultyUpstream((_, i) => (i === 0 ? openaiError(429, { 'retry-after-ms': '300' }) : Response.json(completion())));
    expect((await chat(env)).status).toBe(429);
    const started = Date.now();
    const res = await chat(env);
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(calls).toHaveLength(2);
  });

  it("rests a key until the provider's reset when the limit headers say it is exhausted", async () => {
    const keys = freshKeys('gsk', 2);
    const env = await multiKeyEnv({ groq: keys });
    const calls = faultyUpstream((_, i) =>
      i === 0
        ? openaiError(429, { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1m30s', 'x-ratelimit-reset-tokens': '2s' })
        : Response.json(completion()),
    );
    await chat(env);
    for (let i = 0; i < 4; i++) await chat(env);
    expect(calls.slice(1).every((c) => c.key !== calls[0]!.key)).toBe(true);
  });
});

describe('provider errors that echo a secret', () => {
  it('replaces every provider key and gateway token in an upstream error body', async () => {
    const keys = freshKeys('gsk', 2);
    const env = await multiKeyEnv({ groq: keys, vars: { CLOUDFLARE_AIG_TOKEN: 'aig-token-secret-123' } });
    faultyUpstream((call) =>
      Response.json(
        {
          error: {
            message: `Incorrect API key provided: ${call.key}. Also ${keys.join(', ')} and aig-token-secret-123 and test-vault-token`,
            type: 'invalid_request_error',
            code: 'invalid_api_key',
          },
        },
        { status: 401 },
      ),
    );
    const res = await chat(env);
    expect(res.status).toBe(401);
    const text = await res.text();
    for (const secret of [...keys, 'aig-token-secret-123', 'test-vault-token']) expect(text).not.toContain(secret);
    expect(text).toContain('Incorrect API key provided: [redacted]');
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'invalid_api_key' } });
  });

  it('scrubs a non-retryable plain-text error answered at once too, in the JSON error shape', async () => {
    const keys = freshKeys('gsk', 1);
    const env = await multiKeyEnv({ groq: keys });
    faultyUpstream((call) => new Response(`bad request for key=${call.key}`, { status: 400, headers: { 'content-type': 'text/plain' } }));
    const res = await chat(env);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: { message: 'provider "groq" answered HTTP 400: bad request for key=[redacted]', type: 'invalid_request_error', code: 'upstream_error' },
    });
  });

  it('turns an HTML or plain-text upstream error page into the JSON error shape, keeping status and headers', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 1) });
    faultyUpstream(
      () =>
        new Response('<html><body><h1>502 Bad Gateway</h1></body></html>', {
          status: 502,
          headers: { 'content-type': 'text/html', 'retry-after': '7', 'x-upstream-trace': 'up-1' },
        }),
    );
    const res = await chat(env);
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(res.headers.get('retry-after')).toBe('7');
    // Only allow-listed upstream headers reach the client.
    expect(res.headers.has('x-upstream-trace')).toBe(false);
    expect(await res.json()).toEqual({ error: { message: 'provider "groq" answered HTTP 502', type: 'upstream_error', code: 'upstream_error' } });
  });
});
