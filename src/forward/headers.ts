// Headers between client and upstream, in both directions: allow-lists, so that nothing a client sends
// can change which account, project or method a provider sees (`OpenAI-Organization`, `OpenAI-Project`,
// `x-goog-user-project`, `X-HTTP-Method-Override`, AI Gateway's `cf-aig-*`), and nothing a provider
// answers about the shared account reaches a client (organisation and project ids, rate-limit state,
// `access-control-*` that would defeat CORS_ORIGINS, cookies).

/**
 * Client headers that may travel upstream: the body's type, what the client accepts, and the version
 * and beta headers of the protocols, which change what an API does but not whose account it uses.
 */
const TO_PROVIDER = new Set(['content-type', 'accept', 'anthropic-version', 'anthropic-beta', 'openai-beta']);

/**
 * Upstream response headers a client may see: the body's type, its encoding (the runtime decodes the
 * body and encodes it again to match this header, so it must travel with it) and `Retry-After`. The
 * gateway adds its own `X-Request-Id`, `X-RateLimit-*` and `X-Switchyard-*` afterwards.
 */
const TO_CLIENT = new Set(['content-type', 'content-encoding', 'retry-after']);

/**
 * Every answer is one user's, so no shared cache on the way may keep it, whatever caching the
 * provider asked for (the gateway's own cache is keyed by user: src/cache).
 */
export const PRIVATE_ANSWER = { 'cache-control': 'no-store' } as const;

// Both return plain objects, not Headers: fetch and Response take them in one call, where each
// `Headers.set` is a call into the runtime (bench/hot-path.ts: ~12 → ~4 µs for both directions).

/** The client's allowed headers, plus the target's own (auth) headers. */
export function upstreamHeaders(incoming: Headers, targetHeaders: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of TO_PROVIDER) {
    const value = incoming.get(name);
    if (value !== null) out[name] = value;
  }
  // Lower case, as the allowed names are: a target's header replaces the client's of the same name.
  for (const [name, value] of Object.entries(targetHeaders)) out[name.toLowerCase()] = value;
  return out;
}

/**
 * Upstream response headers a client may see, and `answerHeaders`: the headers the gateway gives every
 * answer of the request (request id, rate limits, CORS), so the answer is made with them at once.
 */
export function downstreamHeaders(upstream: Headers, answerHeaders: readonly (readonly [string, string])[] = []): Record<string, string> {
  const out: Record<string, string> = { ...PRIVATE_ANSWER };
  for (const name of TO_CLIENT) {
    const value = upstream.get(name);
    if (value !== null) out[name] = value;
  }
  // Lower case, so the gateway's header replaces an upstream one of the same name (as `set` would).
  for (const [name, value] of answerHeaders) out[name.toLowerCase()] = value;
  return out;
}

/**
 * Answers made with the first n of their request's answer headers (`downstreamHeaders`): the
 * answer-headers middleware sets only the rest, where setting each one again is a runtime call
 * per header (~20 µs a request in `bench/hot-path.ts`).
 */
export const carriedAnswerHeaders = new WeakMap<Response, number>();

/** `response`, noted as made with the first `count` answer headers of its request. */
export function carrying(response: Response, count: number): Response {
  if (count > 0) carriedAnswerHeaders.set(response, count);
  return response;
}
