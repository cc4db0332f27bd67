import type { ProviderKey } from '../vault/schema';

/** A key is usable unless marked `expired` or past its `expiresAt`. */
export function isUsable(key: ProviderKey, now = Date.now()): boolean {
  if (key.type === 'expired') return false;
  return !(key.expiresAt && Date.parse(key.expiresAt) <= now);
}

export function usableKeys(keys: ProviderKey[], now = Date.now()): ProviderKey[] {
  return keys.filter((key) => isUsable(key, now));
}

// Per-isolate round-robin cursor per provider.
const cursors = new Map<string, number>();

/**
 * The provider's usable keys in the order to try them: each call starts one key further along,
 * so consecutive requests spread over all keys and a failing key's successor is next in line.
 */
export function keyRotation(providerId: string, keys: ProviderKey[], now = Date.now()): ProviderKey[] {
  const usable = usableKeys(keys, now);
  if (usable.length === 0) return usable;
  const start = (cursors.get(providerId) ?? 0) % usable.length;
  cursors.set(providerId, start + 1);
  return [...usable.slice(start), ...usable.slice(0, start)];
}
