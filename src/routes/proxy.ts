import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { every } from 'hono/combine';
import type { Env } from '../env';
import { cacheCallOf, throughCache } from '../cache/serve';
import { send } from '../forward/send';
import { formModel, parseJsonBody, parseOperation } from '../forward/operation';
import { gatewaySlug } from '../forward/target';
import { meteredUserAuth } from '../middleware/auth';
import { requestedMaxTokens } from '../usage/price';
import { requestBodyLimit } from '../middleware/body-limit';
import { GatewayError } from '../errors';
import { findModel, hasUsableKey, noUsableKey, resolveProvider } from '../providers/lookup';
import { PROVIDERS, providerForHost } from '../providers/table';
import { assertMayUse } from '../users/access';
import { loadConfig } from '../vault/store';

// POST /:provider/v1/<operation> (and v1beta for Gemini's native paths), and the legacy form where
// an `X-Host-Final` header picks the provider from the fixed host table.

export async function forwardOperation(c: Context<Env>, providerName: string, operationPath: string) {
  const operation = parseOperation(operationPath);
  const config = await loadConfig(c.env);
  const resolved = resolveProvider(config, providerName);
  if (!resolved) throw new GatewayError(404, `unknown provider "${providerName}": the vault does not name it`, 'provider_not_found');
  const { id, provider } = resolved;
  const user = c.get('user');
  assertMayUse(user, c.get('userName'), id);
  if (!hasUsableKey(provider)) {
    throw noUsableKey(`provider "${id}"`);
  }

  const method = c.req.method;
  const body = method === 'GET' || method === 'HEAD' ? null : await c.req.arrayBuffer();
  const contentType = c.req.header('content-type');
  const json = body ? parseJsonBody(operation, body, contentType) : undefined;
  const model = operation.pathModel ?? (typeof json?.model === 'string' ? json.model : body ? await formModel(body, contentType) : undefined);
  const listed = model === undefined ? undefined : findModel(provider, model, gatewaySlug(id, provider));
  if (operation.kind !== 'other' && model !== undefined && !listed) {
    throw new GatewayError(404, `model "${model}" is not offered by provider "${id}"`, 'model_not_found');
  }
  // Allow-lists name vault models: `groq/llama-…` (AI Gateway form) is the vault's `llama-…`.
  assertMayUse(user, c.get('userName'), id, listed?.id ?? model);
  await c.get('admit')!({ models: [listed], bodyBytes: body?.byteLength ?? 0, maxTokens: requestedMaxTokens(json) });

  const url = new URL(c.req.url);
  const call = cacheCallOf(c, {
    provider: id,
    model: listed?.id ?? model ?? '',
    operation: operation.path,
    search: url.search,
    body,
    modelTtl: listed?.cacheTtl,
    served: { provider: id, model: listed?.id ?? model, entry: listed, operation: operation.path },
  });
  return throughCache(call, (signal) =>
    send({
      providerId: id,
      provider,
      operation: operation.path,
      search: url.search,
      method,
      incoming: c.req.raw.headers,
      body,
      json,
      model,
      env: c.env,
      requestId: c.get('requestId'),
      signal,
      tap: c.get('tap'),
      entry: listed,
    }),
  );
}

/** The operation in a legacy native path: what follows the provider's API base path (or its `/v1`). */
function legacyOperation(providerId: string, pathname: string): string {
  const basePath = new URL(PROVIDERS[providerId]!.apiBase).pathname;
  if (pathname.startsWith(`${basePath}/`)) return pathname.slice(basePath.length + 1);
  const versioned = /\/v1(?:beta|alpha)?\/(.+)$/.exec(pathname);
  if (!versioned) throw new GatewayError(400, `path ${pathname} names no operation for ${providerId}`, 'invalid_path');
  return versioned[1]!;
}

const forwardLegacy = (c: Context<Env>) => {
  const providerId = providerForHost(c.req.header('x-host-final')!)!;
  return forwardOperation(c, providerId, legacyOperation(providerId, new URL(c.req.url).pathname));
};

/** Any path with an `X-Host-Final` header is the legacy form; without the header this passes through. */
export const legacyHostFinal: MiddlewareHandler<Env> = async (c, next) => {
  const host = c.req.header('x-host-final');
  if (host === undefined) return next();
  if (!providerForHost(host)) {
    throw new GatewayError(400, "X-Host-Final names a host outside the gateway's host table", 'unknown_host');
  }
  return every(meteredUserAuth('legacy'), requestBodyLimit, forwardLegacy)(c, next);
};

export const proxyRoutes = new Hono<Env>();

proxyRoutes.post('/:provider/:version{v1(?:beta|alpha)?}/*', meteredUserAuth('proxy'), requestBodyLimit, (c) => {
  // The operation is what follows the first two segments of the raw path: the decoded `provider`
  // param (`%67roq` → `groq`) is not a prefix of the raw path.
  const operation = new URL(c.req.url).pathname.split('/').slice(3).join('/');
  return forwardOperation(c, c.req.param('provider'), operation);
});
