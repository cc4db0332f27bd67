import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { every } from 'hono/combine';
import type { Env } from '../env';
import { cacheCallOf, throughCache } from '../cache/serve';
import { send } from '../forward/send';
import { asRead, readIncoming } from '../forward/incoming';
import { assertModelCertain, assertModelChoice } from '../forward/model-choice';
import { findOperation } from '../forward/operation';
import { gatewaySlug } from '../forward/target';
import { meteredUserAuth } from '../middleware/auth';
import { requestedMaxTokens } from '../usage/price';
import { requestBodyLimit } from '../middleware/body-limit';
import { GatewayError } from '../errors';
import { findModel, hasUsableKey, noUsableKey, resolveProvider } from '../providers/lookup';
import { PROVIDERS, providerForHost } from '../providers/table';
import { assertMayUse } from '../users/access';
import { loadConfig } from '../vault/store';

// /:provider/v1/<operation> (and v1beta for Gemini's native paths), and the legacy form where
// an `X-Host-Final` header picks the provider from the fixed host table.

/** `url` is the request's, parsed once by the caller. */
export async function forwardOperation(c: Context<Env>, url: URL, providerName: string, operationPath: string) {
  const config = await loadConfig(c.env);
  const resolved = resolveProvider(config, providerName);
  if (!resolved) throw new GatewayError(404, `unknown provider "${providerName}": the vault does not name it`, 'provider_not_found');
  const { id, provider } = resolved;
  const [user, userName] = [c.get('user'), c.get('userName')];
  assertMayUse(user, userName, id);
  const operation = findOperation(provider, c.req.method, operationPath);
  if (!hasUsableKey(provider)) {
    throw noUsableKey(`provider "${id}"`);
  }

  let incomingCall = await readIncoming(operation, c.req.raw);
  const { model } = incomingCall;
  const listed = model === undefined ? undefined : findModel(provider, model, gatewaySlug(id, provider));
  if (operation.kind !== 'other' && model !== undefined && !listed) {
    throw new GatewayError(404, `model "${model}" is not offered by provider "${id}"`, 'model_not_found');
  }
  const unnamed = model === undefined && operation.model !== 'none' ? 'the request names no model (the provider would choose one)' : undefined;
  assertModelCertain(user, userName, incomingCall.uncertain ?? unnamed);
  // Allow-lists name vault models: `groq/llama-…` (AI Gateway form) is the vault's `llama-…`.
  assertMayUse(user, userName, id, listed?.id ?? model);
  assertModelChoice(user, userName, incomingCall.json, id);
  // What reaches the provider is what was checked: no second `model` key or part for it to prefer.
  if (user.models) incomingCall = await asRead(incomingCall);
  await c.get('admit')!({ models: [listed], bodyBytes: incomingCall.body?.byteLength ?? 0, maxTokens: requestedMaxTokens(incomingCall.json) });

  // The client's headers with the body's content type as it goes upstream: copied only when that changes.
  let incoming = c.req.raw.headers;
  if ((incoming.get('content-type') ?? undefined) !== incomingCall.contentType) {
    incoming = new Headers(incoming);
    if (incomingCall.contentType === undefined) incoming.delete('content-type');
    else incoming.set('content-type', incomingCall.contentType);
  }
  const call = cacheCallOf(c, {
    provider: id,
    model: listed?.id ?? model ?? '',
    operation: operation.path,
    search: url.search,
    body: incomingCall.body,
    modelTtl: listed?.cacheTtl,
    served: { provider: id, model: listed?.id ?? model, entry: listed, operation: operation.path },
  });
  return throughCache(call, (signal, own) =>
    send({
      providerId: id,
      provider,
      operation: operation.path,
      search: url.search,
      method: c.req.method,
      incoming,
      body: incomingCall.body,
      json: incomingCall.json,
      model,
      env: c.env,
      requestId: c.get('requestId'),
      signal,
      tap: c.get('tap'),
      entry: listed,
      // A shared call's answer goes to every request that joined it: each gets its own headers after.
      answerHeaders: own ? c.get('answerHeaders') : undefined,
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
  const url = new URL(c.req.url);
  return forwardOperation(c, url, providerId, legacyOperation(providerId, url.pathname));
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

// Every method: what the table does not name is a 404 `operation_not_supported`, not a route miss.
proxyRoutes.all('/:provider/:version{v1(?:beta|alpha)?}/*', meteredUserAuth('proxy'), requestBodyLimit, (c) => {
  // The operation is what follows the first two segments of the raw path: the decoded `provider`
  // param (`%67roq` → `groq`) is not a prefix of the raw path.
  const url = new URL(c.req.url);
  const operation = url.pathname.split('/').slice(3).join('/');
  return forwardOperation(c, url, c.req.param('provider'), operation);
});
