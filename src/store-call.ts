import type { Bindings } from './env';
import { GatewayError } from './errors';
import { logEvent } from './log';

// A store on a request's path (D1, KV, a Durable Object, the Cache API) is a dependency, not the
// gateway: when it fails or does not answer in time the client gets a 503 naming it (README, "When a
// store fails"), never a 500 `internal_error` and never a hang. This file is that rule's one home.

/** Why a call was given up on: the store did not answer within its time. */
export class StoreTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'StoreTimeout';
  }
}

/** `work`, or a StoreTimeout once `ms` have passed without its outcome (the work itself is left to end as it may). */
export function withinMs<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeout(ms)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** The answer when a store cannot be used: 503, `store_unavailable`, the store named (e.g. "the usage database (D1)"). */
export const storeUnavailable = (store: string) => new GatewayError(503, `${store} is unavailable; retry shortly`, 'store_unavailable', { 'Retry-After': '5' });

/**
 * Run `work` against a store within `ms`. Its failure or silence is logged (with the store's own
 * reason, which the client never sees) and becomes `storeUnavailable(store)`; the gateway's own
 * answers (a GatewayError: a 404…) pass as they are.
 */
export async function fromStore<T>(env: Pick<Bindings, 'DEBUG'>, store: string, ms: number, work: () => Promise<T>): Promise<T> {
  try {
    return await withinMs(work(), ms);
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    logEvent(env, 'error', { event: 'store_unavailable', store, reason: err instanceof Error ? err.message : String(err) });
    throw storeUnavailable(store);
  }
}
