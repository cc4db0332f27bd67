import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { send } from '../../../src/forward/send';
import { GatewayError } from '../../../src/errors';
import { loadConfig } from '../../../src/vault/store';
import { postJson } from '../helpers/env';
import { CHAT, chunk, completion, controlledStream, faultyUpstream, freshKeys, hang, multiKeyEnv, readAll, sseEvents, sseResponse } from '../helpers/upstreams';

// Per-attempt time to first byte, silence once the status line came, and the overall deadline: when
// they run out the client gets a 504 in the error shape (or the next key), never a hang.

afterEach(() => vi.restoreAllMocks());

const chat = (env: Awaited<ReturnType<typeof multiKeyEnv>>, body: unknown = CHAT) => app.request('/groq/v1/chat/completions', postJson(body), env);

describe('timeouts', () => {
  it('gives up on an attempt past UPSTREAM_FIRST_BYTE_TIMEOUT_MS, aborts it, and tries the next key', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2), vars: { UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '150' } });
    const calls = faultyUpstream((call, i) => (i === 0 ? hang(call.signal) : Response.json(completion())));
    const started = Date.now();
    const res = await chat(env);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-attempts')).toBe('2');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(calls[0]!.signal?.aborted).toBe(true);
  });

  it('answers 504 in the error shape when every attempt times out', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2), vars: { UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '100' } });
    const calls = faultyUpstream((call) => hang(call.signal));
    const res = await chat(env);
    expect(res.status).toBe(504);
    expect(res.headers.get('x-switchyard-attempts')).toBe('2');
    expect(await res.json()).toEqual({ error: { message: 'provider "groq" did not answer in time', type: 'timeout_error', code: 'upstream_timeout' } });
    expect(calls.every((c) => c.signal?.aborted)).toBe(true);
  });

  it('stops at UPSTREAM_DEADLINE_MS across attempts, however many keys are left', async () => {
    const env = await multiKeyEnv({
      groq: freshKeys('gsk', 4),
      vars: { UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '120', UPSTREAM_DEADLINE_MS: '200', MAX_ATTEMPTS: '4' },
    });
    const calls = faultyUpstream((call) => hang(call.signal));
    const started = Date.now();
    const res = await chat(env);
    const took = Date.now() - started;
    expect(res.status).toBe(504);
    expect(calls).toHaveLength(2);
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(1_000);
  });

  it('makes no attempt when the deadline a fallback chain passed has already gone by', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2) });
    const calls = faultyUpstream(() => Response.json(completion()));
    const config = await loadConfig(env);
    const started = Date.now();
    const failure = await send({
      providerId: 'groq',
      provider: config.providers.groq!,
      operation: 'chat/completions',
      search: '',
      method: 'POST',
      incoming: new Headers({ 'content-type': 'application/json' }),
      body: new TextEncoder().encode(JSON.stringify(CHAT)).buffer as ArrayBuffer,
      env,
      deadline: started - 1,
    }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(GatewayError);
    expect(failure).toMatchObject({ status: 504, code: 'upstream_timeout', headers: { 'X-Switchyard-Attempts': '0' } });
    expect(calls).toHaveLength(0);
  });

  it('fails over when the status line came but the body stays silent past UPSTREAM_IDLE_TIMEOUT_MS', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2), vars: { UPSTREAM_IDLE_TIMEOUT_MS: '120' } });
    const silent = controlledStream();
    const calls = faultyUpstream((_, i) => (i === 0 ? sseResponse(silent.body) : sseResponse(chunk('Hi') + 'data: [DONE]\n\n')));
    const res = await chat(env, { ...CHAT, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-attempts')).toBe('2');
    expect(sseEvents(await readAll(res)).at(-1)!.data).toBe('[DONE]');
    expect(calls[0]!.signal?.aborted).toBe(true);
  });

  it('ends a stream that falls silent mid-way with an SSE timeout error event, and logs it', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2), vars: { UPSTREAM_IDLE_TIMEOUT_MS: '150' } });
    const upstream = controlledStream();
    const calls = faultyUpstream(() => sseResponse(upstream.body));
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    upstream.send(chunk('Hel'));
    const res = await chat(env, { ...CHAT, stream: true });
    upstream.send(chunk('lo'));
    const events = sseEvents(await readAll(res));
    expect(events.slice(0, 2).map((e) => (e.data as any).choices[0].delta.content)).toEqual(['Hel', 'lo']);
    expect(events[2]!.data).toMatchObject({ error: { code: 'upstream_timeout', type: 'timeout_error' } });
    expect(events).toHaveLength(3);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.signal?.aborted).toBe(true);
    expect(logged.mock.calls.flat().join('\n')).toMatch(/"event":"stream_failed".*"reason":"idle_timeout"/);
  });
});
