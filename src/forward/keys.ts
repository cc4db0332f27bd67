import type { ProviderKey } from '../vault/schema';
import { roomFor } from './headroom';
import { backoffMs } from './retry';
import { usableKeys } from '../providers/lookup';

// Per-isolate state: a round-robin cursor per provider, and the keys resting after a failure (this
// isolate's own failures, merged with the other isolates' from src/forward/key-health.ts). A key its
// provider called exhausted (headroom.ts) waits like a resting one; one with too few tokens left for
// the request goes after the keys that have room.

const cursors = new Map<string, number>();

export interface Rest {
  until: number;
  /** Consecutive failures, for the backoff. */
  failures: number;
}
const resting = new Map<string, Rest>();
const restId = (providerId: string, key: string) => `${providerId}\n${key}`;

/** Why a key failed: decides how long it rests when the provider gave no hint. */
export type FailureKind = 'auth' | 'rate' | 'server';

const BACKOFF: Record<FailureKind, { base: number; cap: number }> = {
  // A 401/403 key is likely revoked: it rests long, and longer each time.
  auth: { base: 60_000, cap: 30 * 60_000 },
  rate: { base: 1_000, cap: 60_000 },
  // 5xx, timeouts and network errors: short rests, so a flapping provider is probed again soon.
  server: { base: 250, cap: 8_000 },
};

/**
 * Put a key to rest after a failed attempt: for the provider's own wait when it gave one
 * (`Retry-After`, reset headers), else for a jittered exponential backoff over its consecutive failures.
 */
export function restKey(providerId: string, key: string, kind: FailureKind, providerWaitMs?: number, now = Date.now()): Rest {
  const id = restId(providerId, key);
  const failures = (resting.get(id)?.failures ?? 0) + 1;
  const { base, cap } = BACKOFF[kind];
  const rest = { until: now + (providerWaitMs ?? backoffMs(failures, base, cap)), failures };
  resting.set(id, rest);
  return rest;
}

/** Another isolate put this key to rest: it rests here too, until the later of the two. */
export function adoptRest(providerId: string, key: string, rest: Rest) {
  const id = restId(providerId, key);
  const own = resting.get(id);
  if (!own || own.until < rest.until) resting.set(id, { until: rest.until, failures: Math.max(rest.failures, own?.failures ?? 0) });
}

/** A key answered: it is no longer resting and its backoff starts over. Whether it had failed before. */
export function keySucceeded(providerId: string, key: string): boolean {
  return resting.delete(restId(providerId, key));
}

/** When a key may be used again, as this isolate knows it (0 when it is not resting). */
export function restingUntil(providerId: string, key: string, now = Date.now()): number {
  const until = resting.get(restId(providerId, key))?.until ?? 0;
  return until > now ? until : 0;
}

export interface KeyTurn {
  key: ProviderKey;
  /** When the key may be used (0 when it is not resting). */
  readyAt: number;
}

/**
 * The provider's usable keys in the order to try them for a request that may count `tokens`. Each call
 * starts one key further along, so consecutive requests spread over all keys; keys short of tokens
 * come after, and resting or exhausted keys last, soonest ready first.
 */
export function keyRotation(providerId: string, keys: ProviderKey[], now = Date.now(), tokens = 0): KeyTurn[] {
  const usable = usableKeys(keys, now);
  if (usable.length === 0) return [];
  const start = (cursors.get(providerId) ?? 0) % usable.length;
  cursors.set(providerId, start + 1);
  return byReadiness(providerId, [...usable.slice(start), ...usable.slice(0, start)], tokens, now);
}

/**
 * The usable keys starting at the one `affinity` (promptAffinity: a long prompt prefix) picks, so that
 * requests sharing that prefix meet the provider's prompt cache on one key. While that key rests, the
 * next ready key in order stands in; the round-robin cursor is left alone.
 */
export function affinityRotation(providerId: string, keys: ProviderKey[], affinity: number, now = Date.now(), tokens = 0): KeyTurn[] {
  const usable = usableKeys(keys, now);
  const start = usable.length === 0 ? 0 : affinity % usable.length;
  return byReadiness(providerId, [...usable.slice(start), ...usable.slice(0, start)], tokens, now);
}

/** Keys in the given order: those with room first, then those short of tokens, then resting and exhausted ones, soonest ready first. */
function byReadiness(providerId: string, ordered: ProviderKey[], tokens: number, now: number): (KeyTurn & { short: boolean })[] {
  const turns = ordered.map((key) => {
    const rest = resting.get(restId(providerId, key.key));
    const room = roomFor(providerId, key.key, tokens, now);
    return { key, readyAt: Math.max(rest && rest.until > now ? rest.until : 0, room.until), short: room.short };
  });
  const ready = turns.filter((t) => t.readyAt === 0);
  return [...ready.filter((t) => !t.short), ...ready.filter((t) => t.short), ...turns.filter((t) => t.readyAt > 0).sort((a, b) => a.readyAt - b.readyAt)];
}

/** Whether any of the provider's usable keys may be tried now (not resting, not exhausted). */
export const hasReadyKey = (providerId: string, keys: ProviderKey[], now = Date.now()): boolean =>
  byReadiness(providerId, usableKeys(keys, now), 0, now).some((turn) => turn.readyAt === 0);
