import type { Bindings } from '../env';
import { keyHealthRows, keyIdOf } from '../forward/key-health';
import { restingUntil } from '../forward/keys';
import { isUsable } from '../providers/lookup';
import type { KeyHealthRow } from '../limits/key-health';
import { USERS_DIRECTORY_NAME } from '../users/directory';
import { loadVault } from '../vault/store';
import { vaultTokenWeakness } from '../vault/token-strength';

// What /healthz reports: each dependency checked for real (a read from KV, D1, the limiter and the
// users Durable Objects, the vault decrypted), and per provider the state of its keys. Error texts are
// the gateway's own messages: they never carry a key or a token.

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
}

export interface HealthReport {
  status: 'ok' | 'degraded';
  checks: {
    vault: Check & { providers?: number };
    kv: Check;
    d1: Check & { lastRecordAt?: string | null };
    limiter: Check;
    users: Check & { count?: number };
    keyHealth: Check;
  };
  providers: Record<string, ProviderHealth>;
  /** How guessable the vault passphrase is (null: not weak, or unset), and whether the operator has a token of its own. */
  security: { vaultTokenWeakness: 'short' | 'common' | 'low-entropy' | null; adminTokenSet: boolean };
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function check<T extends object>(run: () => Promise<T>): Promise<Check & Partial<T>> {
  try {
    return { ok: true, ...(await run()) };
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

export async function healthReport(env: Bindings): Promise<HealthReport> {
  let rows = new Map<string, KeyHealthRow>();
  const [vault, kv, d1, limiter, users, keyHealth] = await Promise.all([
    check(async () => ({ providers: Object.keys((await loadVault(env)).config.providers).length })),
    check(async () => {
      await env.KV_AI_PROXY.get('users');
      return {};
    }),
    check(async () => ({
      lastRecordAt: (await env.DB.prepare('SELECT MAX(time) AS last FROM usage_records').first<{ last: string | null }>())?.last ?? null,
    })),
    check(async () => {
      await env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName('healthz')).peek(1, 1000);
      return {};
    }),
    check(async () => {
      const text = await env.USERS_DIRECTORY.get(env.USERS_DIRECTORY.idFromName(USERS_DIRECTORY_NAME)).current();
      return { count: Object.keys(JSON.parse(text ?? env.DEV_USERS_JSON ?? '{}')).length };
    }),
    check(async () => {
      rows = new Map((await keyHealthRows(env)).map((row) => [`${row.provider}\n${row.keyId}`, row]));
      return {};
    }),
  ]);
  const providers: Record<string, ProviderHealth> = {};
  if (vault.ok) {
    const now = Date.now();
    for (const [id, provider] of Object.entries((await loadVault(env)).config.providers)) {
      providers[id] = providerHealth(id, provider.keys, await Promise.all(provider.keys.map((k) => keyIdOf(k.key))), rows, now);
    }
  }
  const checks = { vault, kv, d1, limiter, users, keyHealth };
  const healthy = Object.values(checks).every((c) => c.ok) && Object.values(providers).every((p) => p.usable > 0);
  const security = {
    vaultTokenWeakness: env.AI_JSON_CRYPTOKEN ? (vaultTokenWeakness(env.AI_JSON_CRYPTOKEN) ?? null) : null,
    adminTokenSet: Boolean(env.ADMIN_TOKEN),
  };
  return { status: healthy ? 'ok' : 'degraded', checks, providers, security };
}
