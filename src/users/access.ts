import { GatewayError } from '../errors';
import type { User } from '../vault/schema';

// The user's optional allow-lists. `models` entries are `provider/model` or a bare model id;
// a trailing `*` matches any suffix (`groq/*`).

function matches(pattern: string, value: string): boolean {
  return pattern.endsWith('*') ? value.startsWith(pattern.slice(0, -1)) : pattern === value;
}

export function mayUseProvider(user: User, providerId: string): boolean {
  return !user.providers || user.providers.some((p) => matches(p.toLowerCase(), providerId));
}

export function mayUseModel(user: User, providerId: string, model: string): boolean {
  return !user.models || user.models.some((p) => matches(p, `${providerId}/${model}`) || matches(p, model));
}

export function assertMayUse(user: User, userName: string, providerId: string, model?: string) {
  if (!mayUseProvider(user, providerId)) {
    throw new GatewayError(403, `user "${userName}" may not use provider "${providerId}"`, 'provider_not_allowed');
  }
  if (model !== undefined && !mayUseModel(user, providerId, model)) {
    throw new GatewayError(403, `user "${userName}" may not use model "${providerId}/${model}"`, 'model_not_allowed');
  }
}
