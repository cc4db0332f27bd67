import type { Context } from 'hono';
import type { Bindings, Env } from '../env';
import { usageFormat, usageOfAnswer } from '../usage/extract';
import type { AttemptInfo, UsageTap } from '../usage/tap';
import { settingsOf } from '../limits/settings';
import { logEvent } from '../log';
import { withinMs } from '../store-call';
import { nextTurn } from '../turn';
import { Flight } from './flight';
import { cacheKey } from './key';
import { CACHE_STATUS_HEADER, type CacheStatus, cacheScope, cacheTtl, isCacheableOperation } from './policy';
import { cachedAnswer, storeAnswer } from './store';
import { isCompleteAnswer } from './complete';

// The cache in front of an upstream call: a fresh stored answer (HIT), else a share of an identical
// call already in flight (HIT), else this request's own call (MISS), recorded as it passes and stored
// once it has completed. A request that asks for no caching goes straight through (BYPASS).

/** Answers larger than this are passed on but not stored (nor joined once past it). */
export const MAX_STORED_BYTES = 16 * 1024 * 1024;

export interface CacheCall {
  env: Bindings;
  /** The authenticated user's id: answers are shared only within `cacheScope`. */
  userId: string;
  provider: string;
  model: string;
  operation: string;
  search: string;
  /** The request's exact body bytes (null: a request without a body, never cached). */
  body: ArrayBuffer | null;
  /** The client's headers (X-Switchyard-Cache-Ttl, and those that change the answer). */
  incoming: Headers;
  /** The vault model's `cacheTtl`, if any. */
  modelTtl?: number;
  /** The client's request signal. */
  signal: AbortSignal;
  /** Keeps work going after the answer was returned (ExecutionContext.waitUntil). */
  waitUntil: (work: Promise<unknown>) => void;
  /** The request's usage tap: a hit is recorded at no cost, a stored miss as `miss`. */
  tap?: UsageTap;
  /** What a hit stands for in its usage record: the provider and vault model that would have answered. */
  served?: Omit<AttemptInfo, 'stream'>;
}

/**
 * The upstream call, given the signal that aborts it (the client's, or a shared call's) and whether
 * its answer goes to this request alone (`own`: a BYPASS), not to identical requests sharing it.
 */
export type Produce = (signal: AbortSignal, own: boolean) => Promise<Response>;

/** The parts of a cache call every route takes from its context. */
export function cacheCallOf(c: Context<Env>, call: Omit<CacheCall, 'env' | 'userId' | 'incoming' | 'signal' | 'waitUntil' | 'tap'>): CacheCall {
  return {
    ...call,
    env: c.env,
    userId: c.get('userId'),
    incoming: c.req.raw.headers,
    signal: c.req.raw.signal,
    waitUntil: backgroundOf(c),
    tap: c.get('tap'),
  };
}

/** ctx.waitUntil, or (no execution context: a test calling the app directly) a promise left to run. */
function backgroundOf(c: Context<Env>): (work: Promise<unknown>) => void {
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return (work) => void work.catch(() => {});
  }
}

/** Identical cacheable calls in flight in this isolate, by cache key. */
const flights = new Map<string, Flight>();

export async function throughCache(call: CacheCall, produce: Produce): Promise<Response> {
  const ttl = cacheTtl(call.incoming, call.modelTtl);
  if (ttl === 0 || !call.body || !isCacheableOperation(call.operation)) return labelled(await produce(call.signal, true), 'BYPASS');
  const key = await cacheKey({ ...call, scope: cacheScope(call.env, call.userId) }, call.body);
  if (!flights.has(key)) {
    const hit = await lookup(call, key, ttl);
    if (hit) {
      // Answered without leaving the process when run locally: the loop reads other requests first (src/turn.ts).
      await nextTurn();
      recordHit(call, hit.answer.headers.get('content-type') ?? '')?.(hit.usage);
      return hit.answer;
    }
  }
  // Looked for while the lookup ran: an identical request may have started the call meanwhile.
  const shared = flights.get(key);
  if (shared) {
    const answer = await shared.join(call.signal);
    const settle = recordHit(call, answer.headers.get('content-type') ?? '');
    if (settle)
      call.waitUntil(
        shared.done.then(() =>
          settle(shared.recording ? usageOfAnswer(usageFormat(call.operation), answer.headers.get('content-type') ?? '', shared.bytes()) : undefined),
        ),
      );
    return labelled(answer, 'HIT');
  }
  call.tap?.cacheMiss();
  const flight = new Flight(
    (signal) => produce(signal, false),
    MAX_STORED_BYTES,
    () => forget(key, flight),
  );
  flights.set(key, flight);
  call.waitUntil(flight.done.then(() => store(call, key, ttl, flight)).finally(() => forget(key, flight)));
  return labelled(await flight.join(call.signal), 'MISS');
}

/** A hit's usage record (no cost; the answer's counts give the money saved), settled with its counts. */
function recordHit(call: CacheCall, contentType: string) {
  if (!call.tap || !call.served) return undefined;
  // Gemini's streamGenerateContent without alt=sse streams a JSON array.
  const stream = contentType.includes('text/event-stream') || call.operation.endsWith(':streamGenerateContent');
  return call.tap.servedFromCache({ ...call.served, stream });
}

function forget(key: string, flight: Flight) {
  if (flights.get(key) === flight) flights.delete(key);
}

/** A cache that fails or does not answer in time is a MISS: the provider answers. */
async function lookup(call: CacheCall, key: string, ttl: number) {
  try {
    return await withinMs(cachedAnswer(key, ttl), settingsOf(call.env).STORE_TIMEOUT_MS);
  } catch (err) {
    logEvent(call.env, 'error', { event: 'cache_lookup_failed', provider: call.provider, error: err instanceof Error ? err.message : String(err) });
    return undefined;
  }
}

/**
 * Stores a whole 2xx answer that was recorded from its first byte to a proper end. Bounded in time:
 * the flight is joinable until this ends, and a put that never returned would serve it past its TTL.
 */
async function store(call: CacheCall, key: string, ttl: number, flight: Flight) {
  const head = flight.head;
  if (!head || head.status < 200 || head.status > 299 || head.status === 206 || !flight.ended || !flight.recording) return;
  const bytes = flight.bytes();
  const contentType = head.headers.find(([name]) => name === 'content-type')?.[1] ?? '';
  if (!isCompleteAnswer(contentType, bytes)) return;
  try {
    await withinMs(storeAnswer(key, ttl, head, bytes, usageOfAnswer(usageFormat(call.operation), contentType, bytes)), settingsOf(call.env).STORE_TIMEOUT_MS);
  } catch (err) {
    logEvent(call.env, 'error', { event: 'cache_store_failed', provider: call.provider, error: err instanceof Error ? err.message : String(err) });
  }
}

function labelled(response: Response, status: CacheStatus): Response {
  response.headers.set(CACHE_STATUS_HEADER, status);
  return response;
}
