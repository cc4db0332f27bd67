import { type Context, Hono } from 'hono';
import type { Env } from '../env';
import { userAuth } from '../middleware/auth';
import { GatewayError } from '../errors';
import { hasUsableKey, modelsByPriority, resolveProvider } from '../providers/lookup';
import { wireProtocol } from '../providers/table';
import { mayUseModel, mayUseProvider } from '../users/access';
import type { Model } from '../vault/schema';
import { loadConfig } from '../vault/store';

// GET /v1/providers, GET /v1/models, GET /:provider/v1/models, GET /:provider/v1/models/:id — from the vault,
// filtered by the user's allow-lists. No upstream call.

export function modelEntry(providerId: string, model: Model, id = model.id) {
  return {
    id,
    object: 'model' as const,
    created: 0,
    owned_by: providerId,
    context_window: model.contextWindow ?? null,
    context_length: model.contextWindow ?? null,
    max_completion_tokens: model.maxOutputTokens ?? null,
    usage: model.usage ?? 'chat',
  };
}

export const catalogRoutes = new Hono<Env>();

catalogRoutes.get('/v1/providers', userAuth, async (c) => {
  const config = await loadConfig(c.env);
  const user = c.get('user');
  const data = Object.entries(config.providers)
    .filter(([id, provider]) => hasUsableKey(provider) && mayUseProvider(user, id))
    .map(([id, provider]) => ({ id, object: 'provider' as const, protocol: wireProtocol(provider.protocol) }));
  return c.json({ object: 'list', data });
});

/** Every model the user may use, of every provider with a usable key: ids `provider/model`. */
export async function unifiedModels(c: Context<Env>) {
  const config = await loadConfig(c.env);
  const user = c.get('user');
  return Object.entries(config.providers)
    .filter(([id, provider]) => hasUsableKey(provider) && mayUseProvider(user, id))
    .flatMap(([id, provider]) =>
      modelsByPriority(provider)
        .filter((model) => mayUseModel(user, id, model.id))
        .map((model) => modelEntry(id, model, `${id}/${model.id}`)),
    );
}

/**
 * A model list for the client that asked: an Anthropic client (it sends `anthropic-version`) also
 * gets the fields of Anthropic's listing (`type`, `display_name`, `created_at`, `has_more`, …).
 */
function modelList(c: Context<Env>, data: ReturnType<typeof modelEntry>[]) {
  if (c.req.header('anthropic-version') === undefined) return c.json({ object: 'list', data });
  const models = data.map((entry) => ({ ...entry, type: 'model' as const, display_name: entry.id, created_at: new Date(0).toISOString() }));
  return c.json({ object: 'list', data: models, has_more: false, first_id: models[0]?.id ?? null, last_id: models.at(-1)?.id ?? null });
}

catalogRoutes.get('/v1/models', userAuth, async (c) => modelList(c, await unifiedModels(c)));

catalogRoutes.get('/v1/models/:model{.+}', userAuth, async (c) => {
  const wanted = c.req.param('model');
  const entry = (await unifiedModels(c)).find((model) => model.id === wanted);
  if (!entry) throw new GatewayError(404, `no model "${wanted}" among the unified models (ids are provider/model)`, 'model_not_found');
  return c.json(entry);
});

async function visibleProvider(c: Context<Env>, name: string) {
  const resolved = resolveProvider(await loadConfig(c.env), name);
  if (!resolved || !mayUseProvider(c.get('user'), resolved.id)) {
    throw new GatewayError(404, `unknown provider "${name}"`, 'provider_not_found');
  }
  return resolved;
}

catalogRoutes.get('/:provider/:version{v1(?:beta)?}/models', userAuth, async (c) => {
  const { id, provider } = await visibleProvider(c, c.req.param('provider'));
  const user = c.get('user');
  const data = modelsByPriority(provider)
    .filter((model) => mayUseModel(user, id, model.id))
    .map((model) => modelEntry(id, model));
  return modelList(c, data);
});

catalogRoutes.get('/:provider/:version{v1(?:beta)?}/models/:model{.+}', userAuth, async (c) => {
  const { id, provider } = await visibleProvider(c, c.req.param('provider'));
  const wanted = c.req.param('model');
  const model = provider.models.find((m) => m.id === wanted);
  if (!model || !mayUseModel(c.get('user'), id, model.id)) {
    throw new GatewayError(404, `model "${wanted}" is not offered by provider "${id}"`, 'model_not_found');
  }
  return c.json(modelEntry(id, model));
});
