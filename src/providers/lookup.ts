import type { AiConfig, Model, Provider, ProviderKey } from '../vault/schema';
import { canonicalProviderId, wireProtocol } from './table';
import { GatewayError } from '../errors';

export interface ResolvedProvider {
  id: string;
  provider: Provider;
}

/** The vault's provider for a name from a URL: case-insensitive, aliases resolved. */
export function resolveProvider(config: AiConfig, name: string): ResolvedProvider | undefined {
  for (const id of [canonicalProviderId(name), name.toLowerCase()]) {
    const provider = Object.hasOwn(config.providers, id) ? config.providers[id] : undefined;
    if (provider) return { id, provider };
  }
  return undefined;
}

export function hasUsableKey(provider: Provider, now = Date.now()): boolean {
  return usableKeys(provider.keys, now).length > 0;
}

/**
 * Each provider's models by id, built once per provider entry: a new vault brings new entries, so an
 * index never outlives the vault version it was built from.
 */
const modelIndexes = new WeakMap<Provider, Map<string, { model: Model; index: number }>>();

function modelIndex(provider: Provider) {
  let index = modelIndexes.get(provider);
  if (!index) {
    index = new Map();
    for (const [i, model] of provider.models.entries()) if (!index.has(model.id)) index.set(model.id, { model, index: i });
    modelIndexes.set(provider, index);
  }
  return index;
}

/** Whether the provider lists a model with exactly this id. */
export const listsModel = (provider: Provider, id: string): boolean => modelIndex(provider).has(id);

/** The vault's model entry for an id, accepting the AI Gateway form `prefix/id` too (the first listed of the two). */
export function findModel(provider: Provider, id: string, prefix?: string): Model | undefined {
  const index = modelIndex(provider);
  const exact = index.get(id);
  const bare = prefix && id.startsWith(`${prefix}/`) ? index.get(id.slice(prefix.length + 1)) : undefined;
  if (exact && bare) return exact.index < bare.index ? exact.model : bare.model;
  return (exact ?? bare)?.model;
}

/** Items in preference order: lower `priority` first, unset last, given order among equals. */
export function byPriority<T>(items: readonly T[], priorityOf: (item: T) => number | undefined): T[] {
  return items
    .map((item, index) => ({ item, index, priority: priorityOf(item) ?? Infinity }))
    .sort((a, b) => a.priority - b.priority || a.index - b.index)
    .map(({ item }) => item);
}

/** A provider's models in preference order (vault order among equals). */
export const modelsByPriority = (provider: Provider) => byPriority(provider.models, (model) => model.priority);

export { wireProtocol };

/** A key is usable unless marked `expired` or past its `expiresAt`. */
export function isUsable(key: ProviderKey, now = Date.now()): boolean {
  if (key.type === 'expired') return false;
  return !(key.expiresAt && Date.parse(key.expiresAt) <= now);
}

export function usableKeys(keys: ProviderKey[], now = Date.now()): ProviderKey[] {
  return keys.filter((key) => isUsable(key, now));
}

/** The refusal when keys exist but none may be used; `subject` names the provider, or the model. */
export const noUsableKey = (subject: string, headers: Record<string, string> = {}) =>
  new GatewayError(503, `${subject} has no usable key (all are expired or marked expired)`, 'no_usable_key', headers);
