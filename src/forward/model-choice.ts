import { GatewayError } from '../errors';
import { mayUseModel } from '../users/access';
import type { User } from '../vault/schema';

// For a user with a `models` allow-list, the model a request uses must be the model the gateway
// checked. Body fields that let a provider pick another model are refused: OpenRouter's `models`
// (fallback list) and `route`, `fallbacks` (LiteLLM-style gateways), Groq's `compound_custom.models`
// (the models a compound system calls). Nested model fields the gateway knows are checked like the
// request's own: Gemini `requests[].model` (batchEmbedContents), `generateContentRequest.model`
// (countTokens) and `tools[].model` (OpenAI Responses' image_generation tool).

/** Top-level body fields that make a provider choose a model other than `model`. */
export const MODEL_CHOOSING_FIELDS = ['models', 'route', 'fallbacks', 'compound_custom'] as const;

/** Model ids named inside the body besides its top-level `model`, where the gateway knows to look. */
function nestedModels(json: Record<string, unknown>): unknown[] {
  const inList = (list: unknown) =>
    Array.isArray(list) ? list.map((item) => (item && typeof item === 'object' ? (item as Record<string, unknown>).model : undefined)) : [];
  const generate = json.generateContentRequest;
  return [
    ...inList(json.requests),
    ...inList(json.tools),
    generate && typeof generate === 'object' ? (generate as Record<string, unknown>).model : undefined,
  ].filter((model) => model !== undefined);
}

/** Gemini names models `models/x`; the vault and allow-lists name them `x`. */
const bareModel = (model: string) => model.replace(/^models\//, '');

/**
 * Refuse (403) a body that chooses models besides the one checked, for a user with a `models`
 * allow-list: a model-choosing field, or a nested model the user may not use. `providerId` undefined
 * (the unified routes, where the provider is not chosen yet): every nested model is refused.
 */
export function assertModelChoice(user: User, userName: string, json: Record<string, unknown> | undefined, providerId?: string): void {
  if (!user.models || !json) return;
  const field = MODEL_CHOOSING_FIELDS.find((name) => json[name] !== undefined && json[name] !== null);
  if (field) {
    throw new GatewayError(
      403,
      `user "${userName}" may use only the models of their allow-list: field "${field}" lets the provider choose another model`,
      'model_choice_not_allowed',
    );
  }
  for (const model of nestedModels(json)) {
    if (typeof model === 'string' && providerId !== undefined && mayUseModel(user, providerId, bareModel(model))) continue;
    throw new GatewayError(
      403,
      `user "${userName}" may not use the model named inside the request body (${typeof model === 'string' ? `"${model}"` : 'not a string'})`,
      'model_choice_not_allowed',
    );
  }
}

/** Refuse (403) a request whose model the gateway cannot read with certainty, for a user with a `models` allow-list. */
export function assertModelCertain(user: User, userName: string, uncertainty: string | undefined): void {
  if (!user.models || uncertainty === undefined) return;
  throw new GatewayError(403, `user "${userName}" may use only the models of their allow-list, and ${uncertainty}`, 'model_uncertain');
}
