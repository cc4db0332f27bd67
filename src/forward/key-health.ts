import { waitUntil } from 'cloudflare:workers';
import type { Bindings } from '../env';
import { KEY_HEALTH_NAME, type KeyHealth, type KeyHealthRow } from '../limits/key-health';
import type { SignalPoint, SignalRow } from '../limits/signals';
import { settingsOf } from '../limits/settings';
import { logEvent } from '../log';
import { withinMs } from '../store-call';
import { nextTurn } from '../turn';
import { digestText } from '../vault/crypto';
import type { ProviderKey } from '../vault/schema';
import { adoptHeadroom } from './headroom';
import { adoptRest, type Rest } from './keys';
import { adoptSignals, type Observation, observe, takeGathered } from './signals';

// The isolate's side of the shared key health (src/limits/key-health.ts). Reading: the table is
// fetched at most every KEY_HEALTH_CACHE_MS; only an isolate's first request waits for it, later
// refreshes run in the background while requests use the copy they have. Writing: failures and
// recoveries are sent with waitUntil, on a later turn of the event loop (src/turn.ts says why). Key
// choice itself stays synchronous (keys.ts). The routing signals (signals.ts, headroom.ts) ride along:
// read in the same call as the resting keys, reported in one batch per SIGNAL_FLUSH_MS.

export const KEY_HEALTH_CACHE_MS = 2_000;

const keyHealth = (env: Bindings): DurableObjectStub<KeyHealth> => env.KEY_HEALTH.get(env.KEY_HEALTH.idFromName(KEY_HEALTH_NAME));

/** Hex SHA-256 of each key value seen: the shared table never holds a key. */
const keyIds = new Map<string, string>();

let shared: Map<string, KeyHealthRow> | undefined;
/** The shared signals of each key (its headroom). */
let sharedSignals = new Map<string, SignalRow>();
let sharedAt = 0;
let refreshing: Promise<void> | undefined;

const rowId = (provider: string, keyId: string) => `${provider}\n${keyId}`;

/** Read the shared rows and signals into this isolate's copy. */
function load(env: Bindings): Promise<void> {
  return keyHealth(env)
    .view()
    .then((view) => {
      shared = new Map(view.keys.map((row) => [rowId(row.provider, row.keyId), row]));
      sharedSignals = new Map(view.signals.map((row) => [rowId(row.provider, row.keyId), row]));
      adoptSignals(view.signals);
    })
    .catch((err: unknown) => {
      shared ??= new Map();
      logEvent(env, 'error', { event: 'key_health_unavailable', reason: err instanceof Error ? err.message : String(err) });
    })
    .finally(() => {
      sharedAt = Date.now();
    });
}

/** A background refresh, one at a time; nobody awaits it but the runtime (waitUntil). */
function refreshInBackground(env: Bindings) {
  refreshing ??= load(env).finally(() => {
    refreshing = undefined;
  });
  waitUntil(refreshing);
}

/**
 * Before choosing among a provider's keys: what the other isolates know about them is merged into this
 * isolate's resting keys. Waits only for the isolate's first read and for the (local) digests of keys
 * it has not seen yet.
 */
export async function syncKeyHealth(env: Bindings, providerId: string, keys: ProviderKey[]): Promise<void> {
  const unseen = keys.filter((k) => !keyIds.has(k.key));
  if (unseen.length > 0) await Promise.all(unseen.map(async (k) => keyIds.set(k.key, await digestText(k.key))));
  // The first read is each request's own: a request that awaited another request's pending read
  // would go on in that request's I/O context (and fail once it had ended). An object that does not
  // answer in time leaves the choice to this isolate's own resting keys until the next read.
  if (!shared)
    await withinMs(load(env), settingsOf(env).STORE_TIMEOUT_MS).catch(() => {
      shared ??= new Map();
      sharedAt = Date.now();
    });
  else if (Date.now() - sharedAt > KEY_HEALTH_CACHE_MS && !refreshing) refreshInBackground(env);
  const now = Date.now();
  for (const { key } of keys) {
    const id = rowId(providerId, keyIds.get(key)!);
    const row = shared?.get(id);
    if (row && row.until > now) adoptRest(providerId, key, row);
    const headroom = sharedSignals.get(id)?.headroom;
    if (headroom) adoptHeadroom(providerId, key, headroom);
  }
}

/** Until when a report is on its way (a report whose request context was cut short is replaced after this). */
let reportDueUntil = 0;

/**
 * Note what an attempt showed (routing signals). This isolate's copy takes it at once; the KeyHealth
 * object gets every observation of a SIGNAL_FLUSH_MS period in one call, after the answer.
 */
export function reportSignals(env: Bindings, providerId: string, key: string, observation: Observation) {
  const settings = settingsOf(env);
  observe(providerId, key, observation, settings.SIGNAL_WINDOW_MS);
  const now = Date.now();
  if (now < reportDueUntil) return;
  reportDueUntil = now + settings.SIGNAL_FLUSH_MS + settings.STORE_TIMEOUT_MS;
  waitUntil(
    new Promise((resolve) => setTimeout(resolve, settings.SIGNAL_FLUSH_MS))
      .then(() => {
        reportDueUntil = 0;
        const reports = takeGathered().flatMap(({ provider, key, report }) => {
          const keyId = keyIds.get(key);
          return keyId ? [{ ...report, provider, keyId }] : [];
        });
        return reports.length > 0 ? keyHealth(env).report(reports) : undefined;
      })
      .catch((err: unknown) => logEvent(env, 'error', { event: 'key_health_unavailable', reason: err instanceof Error ? err.message : String(err) })),
  );
}

/** Tell the other isolates that a key failed (after the answer). */
export function shareFailure(env: Bindings, providerId: string, key: string, rest: Rest, status: number | null, reason: string) {
  const keyId = keyIds.get(key);
  if (!keyId) return;
  waitUntil(
    nextTurn()
      .then(() => keyHealth(env).failed({ provider: providerId, keyId, until: rest.until, failures: rest.failures, status, reason }))
      .catch((err: unknown) => logEvent(env, 'error', { event: 'key_health_unavailable', reason: err instanceof Error ? err.message : String(err) })),
  );
}

/** Tell the other isolates that a key that had failed answered again. */
export function shareRecovery(env: Bindings, providerId: string, key: string) {
  const keyId = keyIds.get(key);
  if (!keyId) return;
  waitUntil(
    nextTurn()
      .then(() => keyHealth(env).recovered(providerId, keyId))
      .catch((err: unknown) => logEvent(env, 'error', { event: 'key_health_unavailable', reason: err instanceof Error ? err.message : String(err) })),
  );
}

/** The shared table as it is now (for /healthz). */
export const keyHealthRows = (env: Bindings): Promise<KeyHealthRow[]> => keyHealth(env).snapshot();

/** The shared routing signals and their chart points as they are now (for /healthz). */
export async function keyHealthSignals(env: Bindings): Promise<{ rows: SignalRow[]; points: SignalPoint[] }> {
  const stub = keyHealth(env);
  const [view, points] = await Promise.all([stub.view(), stub.signalPoints()]);
  return { rows: view.signals, points };
}

/** The digest a key is known by in the shared table. */
export const keyIdOf = async (key: string) => keyIds.get(key) ?? digestText(key);

/** Forget the shared copy (tests: the next request reads the table again, as a new isolate would). */
export function clearKeyHealthCache() {
  shared = undefined;
}
