import type { Bindings } from '../env';
import { keyHealthRows, keyHealthSignals, keyIdOf } from '../forward/key-health';
import type { SignalPoint, SignalRow } from '../limits/signals';
import { type ProviderSignals, providerSignals } from './signals';
import { restingUntil } from '../forward/keys';
import { isUsable } from '../providers/lookup';
import { probeCache } from '../cache/store';
import { settingsOf } from '../limits/settings';
import { withinMs } from '../store-call';
import type { KeyHealthRow } from '../limits/key-health';
import { USERS_DIRECTORY_NAME } from '../users/directory';
import { loadVault } from '../vault/store';
import { secretsWeakness, type TokenWeakness } from '../vault/token-strength';
import { readyDb } from '../d1/schema';

// What /healthz reports: each dependency checked for real (a read from KV, D1, the limiter and the
// users Durable Objects, the vault decrypted), per provider the state of its keys, and how guessable
// the vault passphrase and ADMIN_TOKEN are (zxcvbn, once per secret per isolate). Error texts are the
// gateway's own messages: they never carry a key or a token.

export interface Check {
  ok: boolean;
  error?: string;
}

export interface ProviderHealth {
  keys: number;
  usable: number;
  resting: number;
  expired: number;
  /** The provider's most recent key failure: HTTP status (null for a timeout or network error), reason, ISO time. */
  lastFailure: { status: number | null; reason: string | null; at: string } | null;
  /** Routing signals (README, "Routing"): the operator's view only. */
  signals?: ProviderSignals;
}

export interface HealthReport {
  /** ok: every check passes and every provider has a usable key; down: no request can be served; degraded: in between. */
  status: 'ok' | 'degraded' | 'down';
  checks: {
    vault: Check & { providers?: number };
    kv: Check;
    d1: Check & { lastRecordAt?: string | null };
    limiter: Check;
    users: Check & { count?: number };
    keyHealth: Check;
    cache: Check;
  };
  providers: Record<string, ProviderHealth>;
  /** The operator's view only: how guessable the vault passphrase and ADMIN_TOKEN are (null: not weak, or unset), and whether ADMIN_TOKEN is set. */
  security: { vaultTokenWeakness: TokenWeakness | null; adminTokenWeakness: TokenWeakness | null; adminTokenSet: boolean };
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** One dependency's check, failed when it throws or does not answer within `ms` (a hung store must not hang /healthz). */
async function check<T extends object>(ms: number, run: () => Promise<T>): Promise<Check & Partial<T>> {
  try {
    return { ok: true, ...(await withinMs(run(), ms)) };
  } catch (err) {
    return { ok: false, error: message(err) } as Check & Partial<T>;
  }
}

function providerHealth(
  providerId: string,
  keys: { key: string; type?: string; expiresAt?: string }[],
  ids: string[],
  rows: Map<string, KeyHealthRow>,
  now: number,
): ProviderHealth {
  const health: ProviderHealth = { keys: keys.length, usable: 0, resting: 0, expired: 0, lastFailure: null };
  let last: KeyHealthRow | undefined;
  keys.forEach((key, i) => {
    const row = rows.get(`${providerId}\n${ids[i]}`);
    if (row?.lastFailureAt && (!last || row.lastFailureAt > last.lastFailureAt!)) last = row;
    if (!isUsable(key, now)) health.expired++;
    else if ((row && row.until > now) || restingUntil(providerId, key.key, now) > 0) health.resting++;
    else health.usable++;
  });
  if (last) health.lastFailure = { status: last.lastStatus, reason: last.lastReason, at: new Date(last.lastFailureAt!).toISOString() };
  return health;
}

/** The checks and the providers' keys: what the anonymous status is computed from. */
export async function healthReport(env: Bindings): Promise<Omit<HealthReport, 'security'>> {
  let rows = new Map<string, KeyHealthRow>();
  let signals: { rows: Map<string, SignalRow>; points: SignalPoint[] } = { rows: new Map(), points: [] };
  const ms = settingsOf(env).STORE_TIMEOUT_MS;
  const [vault, kv, d1, limiter, users, keyHealth, cache] = await Promise.all([
    check(ms, async () => ({ providers: Object.keys((await loadVault(env)).config.providers).length })),
    check(ms, async () => {
      await env.KV_AI_PROXY.get('users');
      return {};
    }),
    check(ms, async () => ({
      lastRecordAt: (await (await readyDb(env.DB)).prepare('SELECT MAX(time) AS last FROM usage_records').first<{ last: string | null }>())?.last ?? null,
    })),
    check(ms, async () => {
      await env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName('healthz')).peek(1, 1000);
      return {};
    }),
    check(ms, async () => {
      const text = await env.USERS_DIRECTORY.get(env.USERS_DIRECTORY.idFromName(USERS_DIRECTORY_NAME)).current();
      return { count: Object.keys(JSON.parse(text ?? env.DEV_USERS_JSON ?? '{}')).length };
    }),
    check(ms, async () => {
      const [keyRows, shared] = await Promise.all([keyHealthRows(env), keyHealthSignals(env)]);
      rows = new Map(keyRows.map((row) => [`${row.provider}\n${row.keyId}`, row]));
      signals = { rows: new Map(shared.rows.map((row) => [`${row.provider}\n${row.keyId}`, row])), points: shared.points };
      return {};
    }),
    check(ms, async () => {
      await probeCache();
      return {};
    }),
  ]);
  const providers: Record<string, ProviderHealth> = {};
  if (vault.ok) {
    const now = Date.now();
    for (const [id, provider] of Object.entries((await loadVault(env)).config.providers)) {
      const ids = await Promise.all(provider.keys.map((k) => keyIdOf(k.key)));
      providers[id] = { ...providerHealth(id, provider.keys, ids, rows, now), signals: providerSignals(id, ids, signals.rows, signals.points) };
    }
  }
  const checks = { vault, kv, d1, limiter, users, keyHealth, cache };
  return { status: statusOf(checks, providers), checks, providers };
}

/**
 * Down only when the gateway can serve no request: no usable vault, or no provider with a usable key.
 * Any other failing check (D1, the cache, a Durable Object, one provider without keys) is degraded,
 * answered with 200, so a load balancer keeps a gateway whose other providers work.
 */
function statusOf(checks: HealthReport['checks'], providers: Record<string, ProviderHealth>): HealthReport['status'] {
  const serving = Object.values(providers).filter((p) => p.usable > 0).length;
  if (!checks.vault.ok || serving === 0) return 'down';
  return Object.values(checks).every((c) => c.ok) && serving === Object.keys(providers).length ? 'ok' : 'degraded';
}

/** The operator's view only: a weak secret is named to whoever holds the operator token, never to anyone. */
export async function securityReport(env: Bindings): Promise<HealthReport['security']> {
  const { vault, admin } = await secretsWeakness(env);
  return { vaultTokenWeakness: vault, adminTokenWeakness: admin, adminTokenSet: Boolean(env.ADMIN_TOKEN) };
}
