import { env as testEnv } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import type { Bindings } from '../../../src/env';
import { clearKeyHealthCache } from '../../../src/forward/key-health';
import { KEY_HEALTH_NAME } from '../../../src/limits/key-health';
import { postJson } from '../helpers/env';
import { CHAT, completion, faultyUpstream, freshKeys, multiKeyEnv, openaiError } from '../helpers/upstreams';

// Routing signals cost no call on a request's path: an isolate reads them with the resting keys (one
// call per KEY_HEALTH_CACHE_MS, in the background once warm) and reports them in one batch per
// SIGNAL_FLUSH_MS, after the answers. The calls to the KeyHealth object are counted per request.

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

interface Counted {
  calls: { method: string; during: boolean }[];
  /** Make view() hang (an object that does not answer). */
  hang: boolean;
}

/** KEY_HEALTH with every call counted, and whether a request was being handled when it was made. */
function countedKeyHealth(inFlight: () => boolean): { binding: Bindings['KEY_HEALTH']; counted: Counted } {
  const objects = (testEnv as unknown as Bindings).KEY_HEALTH;
  const counted: Counted = { calls: [], hang: false };
  const binding = {
    idFromName: (name: string) => objects.idFromName(name),
    get: (id: DurableObjectId) => {
      const stub = objects.get(id);
      const note = (method: string) => counted.calls.push({ method, during: inFlight() });
      return {
        view: () => {
          note('view');
          return counted.hang ? new Promise(() => {}) : stub.view();
        },
        report: (...args: Parameters<typeof stub.report>) => (note('report'), stub.report(...args)),
        failed: (...args: Parameters<typeof stub.failed>) => (note('failed'), stub.failed(...args)),
        recovered: (...args: Parameters<typeof stub.recovered>) => (note('recovered'), stub.recovered(...args)),
        snapshot: () => (note('snapshot'), stub.snapshot()),
      };
    },
  } as unknown as Bindings['KEY_HEALTH'];
  return { binding, counted };
}

describe('signals on the hot path', () => {
  it('once warm, a request makes 0 calls to the signal object; reports go in batches after the answers', async () => {
    const keys = freshKeys('gsk', 2);
    let inFlight = false;
    const { binding, counted } = countedKeyHealth(() => inFlight);
    const env = { ...(await multiKeyEnv({ groq: keys })), KEY_HEALTH: binding };
    faultyUpstream(() => Response.json(completion(), { headers: { 'x-ratelimit-remaining-tokens': '50000', 'x-ratelimit-reset-tokens': '1m0s' } }));
    clearKeyHealthCache();

    // The isolate's first request reads the table (and waits for it): the one call that warms it.
    inFlight = true;
    expect((await app.request('/groq/v1/chat/completions', postJson(CHAT), env)).status).toBe(200);
    inFlight = false;
    expect(counted.calls.filter((c) => c.during).map((c) => c.method)).toEqual(['view']);

    counted.calls.length = 0;
    // The clock stands still: every request comes within KEY_HEALTH_CACHE_MS of the first read.
    vi.useFakeTimers({ toFake: ['Date'] });
    const requests = 40;
    for (let i = 0; i < requests; i++) {
      inFlight = true;
      const res = await app.request('/groq/v1/chat/completions', postJson(CHAT), env);
      inFlight = false;
      expect(res.status).toBe(200);
    }
    vi.useRealTimers();
    // No read, no per-request call: only the batched reports below (made by a timer in waitUntil).
    expect(counted.calls.filter((c) => c.method !== 'report')).toEqual([]);
    // The 40 requests' observations go in batches (one per SIGNAL_FLUSH_MS, 1 s), never one call per request.
    await vi.waitFor(() => expect(counted.calls.some((c) => c.method === 'report')).toBe(true), { timeout: 15_000 });
    expect(counted.calls.filter((c) => c.method === 'report').length).toBeLessThan(requests / 4);

    const view = await (testEnv as unknown as Bindings).KEY_HEALTH.get((testEnv as unknown as Bindings).KEY_HEALTH.idFromName(KEY_HEALTH_NAME)).view();
    const groq = view.signals.find((row) => row.provider === 'groq' && row.keyId === '');
    expect(groq?.ttfbMs?.value).toBeGreaterThanOrEqual(0);
    expect(groq?.errorRate?.value).toBe(0);
    expect(view.signals.some((row) => row.provider === 'groq' && row.headroom?.tokens !== undefined)).toBe(true);
  });

  it('an object that stops answering holds no request: one background read, requests go on', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-06-01T12:00:00Z'));
    const keys = freshKeys('gsk', 1);
    const { binding, counted } = countedKeyHealth(() => true);
    const env = { ...(await multiKeyEnv({ groq: keys })), KEY_HEALTH: binding };
    faultyUpstream(() => Response.json(completion()));
    clearKeyHealthCache();
    expect((await app.request('/groq/v1/chat/completions', postJson(CHAT), env)).status).toBe(200);

    counted.hang = true;
    vi.setSystemTime(new Date('2026-06-01T12:00:05Z'));
    counted.calls.length = 0;
    for (let i = 0; i < 10; i++) expect((await app.request('/groq/v1/chat/completions', postJson(CHAT), env)).status).toBe(200);
    expect(counted.calls.filter((c) => c.method === 'view')).toHaveLength(1);
  });

  it('failures count into the error and refusal rates', async () => {
    // The earlier tests of this file saw only answers: the provider's rates were 0 until now.
    const keys = freshKeys('gsk', 2);
    const env = { ...(await multiKeyEnv({ groq: keys })), SIGNAL_FLUSH_MS: '10' };
    faultyUpstream((call) => (call.key === keys[0] ? openaiError(503) : openaiError(429)));
    await app.request('/groq/v1/chat/completions', postJson(CHAT), env);
    const stub = (testEnv as unknown as Bindings).KEY_HEALTH.get((testEnv as unknown as Bindings).KEY_HEALTH.idFromName(KEY_HEALTH_NAME));
    await vi.waitFor(
      async () => {
        const groq = (await stub.view()).signals.find((row) => row.provider === 'groq' && row.keyId === '');
        expect(groq?.errorRate?.value).toBeGreaterThan(0);
        expect(groq?.refusalRate?.value).toBeGreaterThan(0);
      },
      { timeout: 15_000 },
    );
  });
});
