import * as z from 'zod';
import type { Bindings } from '../env';

// The resilience and limit settings (wrangler vars), with their defaults. A value that is not a whole
// number in range falls back to the default: a typo in a var must not take the gateway down.

const setting = (fallback: number, min: number) => z.coerce.number().int().min(min).catch(fallback);

const Settings = z.object({
  /** Requests per minute for a user without `rpm`; 0 = unlimited. */
  DEFAULT_RPM: setting(60, 0),
  /** Failed authentications allowed per client IP within the window before it gets 429s. */
  AUTH_FAILURE_LIMIT: setting(10, 1),
  AUTH_FAILURE_WINDOW_S: setting(300, 1),
  /** Upstream attempts per request at most (never more than the provider's usable keys). */
  MAX_ATTEMPTS: setting(3, 1),
  /** Upstream attempts per client request at most, across the providers of a fallback chain. */
  MAX_REQUEST_ATTEMPTS: setting(6, 1),
  /** Per attempt: time until the upstream's first byte. */
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: setting(60_000, 1),
  /** Per request: time until an upstream answer, across all attempts and waits. */
  UPSTREAM_DEADLINE_MS: setting(180_000, 1),
  /** Once streaming: longest silence between two chunks before the stream is ended with an error. */
  UPSTREAM_IDLE_TIMEOUT_MS: setting(60_000, 1),
  /** Per call to a store on a request's path (D1, KV, a Durable Object, the Cache API): time before it counts as unavailable. */
  STORE_TIMEOUT_MS: setting(10_000, 1),
  /** Days a usage record is kept in D1 before the daily scheduled run removes it. */
  USAGE_RETENTION_DAYS: setting(90, 1),
  /** How long an isolate admits requests against a lease from the user's object (docs/architecture.md, "Leases"). */
  LEASE_MS: setting(5_000, 1),
  /** Per user and isolate, the least time between two settles sent to the user's object (the records of the time between go together). */
  SETTLE_INTERVAL_MS: setting(1_000, 0),
  /** Routing signals: the time constant of their moving averages (a sample's weight falls to 1/e after this long). */
  SIGNAL_WINDOW_MS: setting(60_000, 100),
  /** Routing signals: how long an isolate gathers its observations before sending them to KeyHealth in one call. */
  SIGNAL_FLUSH_MS: setting(1_000, 10),
});

export type Settings = z.infer<typeof Settings>;

const parsed = new WeakMap<object, Settings>();

/** The settings of an env, parsed once per env object. */
export function settingsOf(env: Partial<Bindings>): Settings {
  let settings = parsed.get(env);
  if (!settings) parsed.set(env, (settings = Settings.parse(env)));
  return settings;
}
