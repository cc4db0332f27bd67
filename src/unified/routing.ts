import { prefixHash } from '../forward/affinity';
import { hasReadyKey } from '../forward/keys';
import { providerSignals } from '../forward/signals';
import type { Average } from '../limits/signals';
import type { Candidate } from './candidates';

// The order of a fallback chain, by its model route (the vault's `routes`): `priority` as listed,
// `latency` by the providers' recent time to first byte, `weighted` by a draw the request id fixes.
// Only this isolate's copy of the signals is read: ordering a chain costs no call.

/** The answer header saying why the provider that answered was chosen. */
export const ROUTE_HEADER = 'X-Switchyard-Route';

/** A provider failing more often than this is not healthy: latency routing puts it after the healthy ones. */
const UNHEALTHY_ERROR_RATE = 0.5;
/**
 * A signal with no sample for this many windows is stale, like no signal: such a provider goes first
 * among its equals, so a provider that got no traffic while it was slow is measured again.
 */
const STALE_WINDOWS = 5;

export interface RouteOrder {
  candidates: Candidate[];
  /** Why the first candidate is first: `priority`, `latency ttfb=123ms`, `weighted 90/10`. */
  reason: string;
}

/** The chain in the order its route asks for; `routeKey` (the request's id) fixes a weighted draw. */
export function routeOrder(candidates: Candidate[], routeKey: string, windowMs: number, now = Date.now()): RouteOrder {
  const route = candidates[0]?.route;
  if (candidates.length < 2 || route?.routing === undefined || route.routing === 'priority') return { candidates, reason: 'priority' };
  if (route.routing === 'weighted') return weighted(candidates, route.weights ?? {}, routeKey);
  return byLatency(candidates, windowMs, now);
}

/** A number in [0, 1) fixed by the key: the same request id draws the same provider in every isolate. */
export const draw = (routeKey: string) => prefixHash(routeKey) / 2 ** 32;

function weighted(candidates: Candidate[], weights: Record<string, number>, routeKey: string): RouteOrder {
  const weightOf = (c: Candidate) => (Object.hasOwn(weights, c.providerId) ? weights[c.providerId]! : 0);
  const drawn = candidates.filter((c) => weightOf(c) > 0);
  const total = drawn.reduce((sum, c) => sum + weightOf(c), 0);
  if (drawn.length === 0) return { candidates, reason: 'priority' };
  let point = draw(routeKey) * total;
  const first = drawn.find((c) => (point -= weightOf(c)) < 0) ?? drawn.at(-1)!;
  const shares = drawn.map((c) => Math.round((100 * weightOf(c)) / total)).join('/');
  return { candidates: [first, ...candidates.filter((c) => c !== first)], reason: `weighted ${shares}` };
}

const recent = (average: Average | null | undefined, windowMs: number, now: number) =>
  average && now - average.at <= STALE_WINDOWS * windowMs ? average : undefined;

function byLatency(candidates: Candidate[], windowMs: number, now: number): RouteOrder {
  const ranked = candidates.map((candidate, index) => {
    const signals = providerSignals(candidate.providerId);
    const errorRate = recent(signals?.errorRate, windowMs, now)?.value ?? 0;
    const healthy = errorRate < UNHEALTHY_ERROR_RATE && hasReadyKey(candidate.providerId, candidate.provider.keys, now);
    return { candidate, index, healthy, ttfb: recent(signals?.ttfbMs, windowMs, now)?.value };
  });
  // Candidates come in priority order: only providers of equal priority trade places.
  ranked.sort(
    (a, b) =>
      (a.candidate.model.priority ?? Infinity) - (b.candidate.model.priority ?? Infinity) ||
      Number(b.healthy) - Number(a.healthy) ||
      (a.ttfb ?? -1) - (b.ttfb ?? -1) ||
      a.index - b.index,
  );
  const ttfb = ranked[0]!.ttfb;
  return { candidates: ranked.map((r) => r.candidate), reason: ttfb === undefined ? 'latency unmeasured' : `latency ttfb=${Math.round(ttfb)}ms` };
}
