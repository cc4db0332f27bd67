import { gatewaySlug } from '../forward/target';
import { GatewayError } from '../errors';
import { byPriority, findModel, hasUsableKey, noUsableKey, resolveProvider } from '../providers/lookup';
import { type WireProtocol, wireProtocol } from '../providers/table';
import { mayUseModel, mayUseProvider } from '../users/access';
import type { AiConfig, Model, ModelRoute, Provider, User } from '../vault/schema';

/** One provider that may answer a unified request, with the vault's entry for the model. */
export interface Candidate {
  providerId: string;
  provider: Provider;
  model: Model;
  protocol: WireProtocol;
  /** The vault's route for the requested model (how the chain is ordered), when it has one. */
  route?: ModelRoute;
}

const candidate = (providerId: string, provider: Provider, model: Model, route?: ModelRoute): Candidate => ({
  providerId,
  provider,
  model,
  protocol: wireProtocol(provider.protocol),
  ...(route ? { route } : {}),
});

/** `provider/model` when the prefix names a vault provider that lists the model. */
function namedCandidate(config: AiConfig, requested: string): Candidate | undefined {
  const slash = requested.indexOf('/');
  if (slash <= 0) return undefined;
  const resolved = resolveProvider(config, requested.slice(0, slash));
  if (!resolved) return undefined;
  const model = findModel(resolved.provider, requested.slice(slash + 1), gatewaySlug(resolved.id, resolved.provider));
  return model ? candidate(resolved.id, resolved.provider, model) : undefined;
}

/** Every provider listing the id, lower model `priority` first, vault order among equals. */
function listingCandidates(config: AiConfig, requested: string): Candidate[] {
  const route = config.routes && Object.hasOwn(config.routes, requested) ? config.routes[requested] : undefined;
  const listing = Object.entries(config.providers).flatMap(([id, provider]) => {
    const model = provider.models.find((m) => m.id === requested);
    return model ? [candidate(id, provider, model, route)] : [];
  });
  return byPriority(listing, (c) => c.model.priority);
}

/**
 * The fallback chain for a requested model, best first. `provider/model` picks that provider; any
 * other id (a bare one, or one like `meta-llama/…` whose prefix names no provider) picks every
 * provider listing it. Only what the user may use and what has a usable key is kept, and only the
 * protocols in `serves` when given (an operation some protocols lack).
 */
export function resolveCandidates(
  config: AiConfig,
  user: User,
  userName: string,
  requested: string,
  serves?: { protocols: WireProtocol[]; refusal: (protocols: string) => GatewayError },
): Candidate[] {
  const named = namedCandidate(config, requested);
  const listed = named ? [named] : listingCandidates(config, requested);
  if (listed.length === 0) throw new GatewayError(404, `no provider in the vault offers model "${requested}"`, 'model_not_found');
  const allowed = listed.filter((c) => mayUseProvider(user, c.providerId) && mayUseModel(user, c.providerId, c.model.id));
  if (allowed.length === 0) throw new GatewayError(403, `user "${userName}" may not use model "${requested}"`, 'model_not_allowed');
  const able = serves ? allowed.filter((c) => serves.protocols.includes(c.protocol)) : allowed;
  if (able.length === 0) throw serves!.refusal([...new Set(allowed.map((c) => c.protocol))].join(', '));
  const keyed = able.filter((c) => hasUsableKey(c.provider));
  if (keyed.length === 0) {
    throw noUsableKey(`model "${requested}"`);
  }
  return keyed;
}
