import { describe, expect, it } from 'vitest';
import { observe } from '../forward/signals';
import type { ModelRoute } from '../vault/schema';
import type { Candidate } from './candidates';
import { routeOrder } from './routing';

// The order of a fallback chain by its model route, through the real choice function.

let serial = 0;
const WINDOW_MS = 60_000;

function chain(route: ModelRoute | undefined, providers: { id?: string; priority?: number }[]): Candidate[] {
  const run = serial++;
  return providers.map(({ id, priority }, i) => ({
    providerId: id ?? `route-${run}-${i}`,
    provider: { protocol: 'openai', endpoint: 'https://api.example.com/v1', keys: [{ key: `route-key-${run}-${i}` }], models: [] },
    model: { id: 'm', ...(priority === undefined ? {} : { priority }) },
    protocol: 'openai',
    ...(route ? { route } : {}),
  }));
}

const ids = (candidates: Candidate[]) => candidates.map((c) => c.providerId);

describe('priority (the default)', () => {
  it('keeps the chain as it is', () => {
    const candidates = chain(undefined, [{ id: 'a' }, { id: 'b' }]);
    expect(routeOrder(candidates, 'req-1', WINDOW_MS)).toEqual({ candidates, reason: 'priority' });
    expect(routeOrder(chain({ routing: 'priority' }, [{ id: 'a' }, { id: 'b' }]), 'r', WINDOW_MS).reason).toBe('priority');
  });
});

describe('weighted', () => {
  it('splits 90/10 within 3 % over 2 000 request ids', () => {
    const candidates = chain({ routing: 'weighted', weights: { canary: 10, stable: 90 } }, [{ id: 'stable' }, { id: 'canary' }]);
    const counts: Record<string, number> = { stable: 0, canary: 0 };
    for (let i = 0; i < 2_000; i++) {
      const order = routeOrder(candidates, crypto.randomUUID(), WINDOW_MS);
      expect(order.reason).toBe('weighted 90/10');
      counts[order.candidates[0]!.providerId]!++;
    }
    expect(Math.abs(counts.stable! / 2_000 - 0.9)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(counts.canary! / 2_000 - 0.1)).toBeLessThanOrEqual(0.03);
  });

  it('draws the same provider for the same request id, and keeps the others as fallbacks', () => {
    const candidates = chain({ routing: 'weighted', weights: { a: 1, b: 1, c: 1 } }, [{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    for (let i = 0; i < 50; i++) {
      const key = `retry-${i}`;
      const first = ids(routeOrder(candidates, key, WINDOW_MS).candidates);
      expect(ids(routeOrder(candidates, key, WINDOW_MS).candidates)).toEqual(first);
      expect([...first].sort()).toEqual(['a', 'b', 'c']);
    }
  });

  it('a provider without a weight is only a fallback', () => {
    const candidates = chain({ routing: 'weighted', weights: { b: 5 } }, [{ id: 'a' }, { id: 'b' }]);
    for (let i = 0; i < 20; i++) expect(ids(routeOrder(candidates, `w-${i}`, WINDOW_MS).candidates)).toEqual(['b', 'a']);
  });
});

describe('latency', () => {
  const NOW = Date.now();

  it('puts the lowest recent time to first byte first among providers of equal priority', () => {
    const candidates = chain({ routing: 'latency' }, [{ priority: 1 }, { priority: 1 }, { priority: 2 }]);
    const [slow, fast, lower] = candidates as [Candidate, Candidate, Candidate];
    observe(slow.providerId, 'k', { outcome: 'ok', ttfbMs: 800 }, WINDOW_MS, NOW);
    observe(fast.providerId, 'k', { outcome: 'ok', ttfbMs: 120 }, WINDOW_MS, NOW);
    // Faster still, but of a lower priority: it stays behind.
    observe(lower.providerId, 'k', { outcome: 'ok', ttfbMs: 5 }, WINDOW_MS, NOW);
    const order = routeOrder(candidates, 'r', WINDOW_MS, NOW);
    expect(ids(order.candidates)).toEqual([fast.providerId, slow.providerId, lower.providerId]);
    expect(order.reason).toBe('latency ttfb=120ms');
  });

  it('follows a drift: the average moves with recent samples', () => {
    const candidates = chain({ routing: 'latency' }, [{}, {}]);
    const [a, b] = candidates as [Candidate, Candidate];
    observe(a.providerId, 'k', { outcome: 'ok', ttfbMs: 100 }, WINDOW_MS, NOW);
    observe(b.providerId, 'k', { outcome: 'ok', ttfbMs: 300 }, WINDOW_MS, NOW);
    expect(routeOrder(candidates, 'r', WINDOW_MS, NOW).candidates[0]).toBe(a);
    // a slows down for the next 30 s; b keeps its 300 ms.
    for (let t = 1; t <= 30; t++) observe(a.providerId, 'k', { outcome: 'ok', ttfbMs: 900 }, WINDOW_MS, NOW + t * 1000);
    observe(b.providerId, 'k', { outcome: 'ok', ttfbMs: 300 }, WINDOW_MS, NOW + 30_000);
    expect(routeOrder(candidates, 'r', WINDOW_MS, NOW + 30_000).candidates[0]).toBe(b);
  });

  it('an unhealthy provider (most attempts failing) goes after the healthy ones; an unmeasured or stale one is measured first', () => {
    const candidates = chain({ routing: 'latency' }, [{}, {}, {}]);
    const [failing, measured, unmeasured] = candidates as [Candidate, Candidate, Candidate];
    for (let i = 0; i < 4; i++) observe(failing.providerId, 'k', { outcome: 'error' }, WINDOW_MS, NOW);
    observe(failing.providerId, 'k', { outcome: 'ok', ttfbMs: 10 }, WINDOW_MS, NOW);
    observe(measured.providerId, 'k', { outcome: 'ok', ttfbMs: 200 }, WINDOW_MS, NOW);
    const order = routeOrder(candidates, 'r', WINDOW_MS, NOW);
    expect(ids(order.candidates)).toEqual([unmeasured.providerId, measured.providerId, failing.providerId]);
    expect(order.reason).toBe('latency unmeasured');
    // Five windows later without samples, what was measured is stale: vault order among the unmeasured.
    expect(ids(routeOrder(candidates, 'r', WINDOW_MS, NOW + 6 * WINDOW_MS).candidates)).toEqual(ids(candidates));
  });
});
