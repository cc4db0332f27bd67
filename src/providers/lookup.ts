import type { AiConfig, Provider } from '../vault/schema';
import { usableKeys } from '../forward/keys';
import { canonicalProviderId, wireProtocol } from './table';

export interface ResolvedProvider {
  id: string;
  provider: Provider;
}

/** The vault's provider for a name from a URL: case-insensitive, aliases resolved. */
export function resolveProvider(config: AiConfig, name: string): ResolvedProvider | undefined {
  for (const id of new Set([canonicalProviderId(name), name.toLowerCase()])) {
    const provider = Object.hasOwn(config.providers, id) ? config.providers[id] : undefined;
    if (provider) return { id, provider };
  }
  return undefined;
}

export function hasUsableKey(provider: Provider, now = Date.now()): boolean {
  return usableKeys(provider.keys, now).length > 0;
}

/** The vault's model entry for an id, accepting the AI Gateway form `prefix/id` too. */
export function findModel(provider: Provider, id: string, prefix?: string) {
  const bare = prefix && id.startsWith(`${prefix}/`) ? id.slice(prefix.length + 1) : id;
  return provider.models.find((model) => model.id === id || model.id === bare);
}

/** Models in preference order: lower `priority` first, vault order among equals. */
export function modelsByPriority(provider: Provider) {
  return provider.models
    .map((model, index) => ({ model, index }))
    .sort((a, b) => (a.model.priority ?? Infinity) - (b.model.priority ?? Infinity) || a.index - b.index)
    .map(({ model }) => model);
}

export { wireProtocol };
