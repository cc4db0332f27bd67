import type { Context, MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import type { Env } from '../env';
import { carriedAnswerHeaders } from '../forward/headers';

// The headers every answer carries (CORS, request ids, rate limits), set on the answer once, in
// place, after the handler made it. Hono's `c.header()` (and its cors middleware, which sets headers
// before the handler runs) makes Hono copy the handler's Response when it is returned: a new Response
// and every header again, ~50 µs of a proxied request's ~1 ms (bench/profile.ts). Hono's cors still
// answers preflights.

/** A client's own X-Request-Id, echoed (src/middleware/request-id.ts). */
export const CLIENT_REQUEST_ID_HEADER = 'X-Client-Request-Id';

/** Response headers a browser client may read. */
export const EXPOSED_HEADERS = [
  'X-Request-Id',
  CLIENT_REQUEST_ID_HEADER,
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'Retry-After',
  'X-Switchyard-Attempts',
  'X-Switchyard-Provider',
  'X-Switchyard-Cache',
  'X-Switchyard-Stored',
  'X-Switchyard-Dropped-Tools',
  'X-Switchyard-Route',
  'Age',
];
const EXPOSED = EXPOSED_HEADERS.join(',');

interface CorsPolicy {
  preflight: MiddlewareHandler<Env>;
  /** The Access-Control-Allow-Origin for a request's Origin, if it is allowed. */
  allowOrigin: (origin: string | undefined) => string | undefined;
  /** The answer depends on the Origin (a list of origins, not `*`). */
  vary: boolean;
}

/** One policy per CORS_ORIGINS value, built on first use. */
const policies = new Map<string, CorsPolicy>();

function policyOf(origins: string): CorsPolicy {
  let policy = policies.get(origins);
  if (policy) return policy;
  const allowed = origins.split(',').map((o) => o.trim());
  const any = allowed.includes('*');
  policy = {
    preflight: cors({
      origin: any ? '*' : allowed,
      allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      exposeHeaders: EXPOSED_HEADERS,
      maxAge: 86400,
    }),
    allowOrigin: any ? () => '*' : (origin) => (origin !== undefined && allowed.includes(origin) ? origin : undefined),
    vary: !any,
  };
  policies.set(origins, policy);
  return policy;
}

/**
 * Outermost: a preflight is answered by Hono's cors; every other answer gets the CORS headers and those
 * set with `answerHeader`. The forward step makes its answers with the ones known by then (passed down
 * as plain values, forward/headers.ts), so only the rest are set here.
 */
export const answerHeaders: MiddlewareHandler<Env> = async (c, next) => {
  const policy = policyOf(c.env.CORS_ORIGINS ?? '*');
  if (c.req.method === 'OPTIONS') return policy.preflight(c, next);
  const headers: [string, string][] = [];
  const origin = policy.allowOrigin(c.req.header('origin'));
  if (origin !== undefined) headers.push(['Access-Control-Allow-Origin', origin]);
  headers.push(['Access-Control-Expose-Headers', EXPOSED]);
  if (policy.vary) headers.push(['Vary', 'Origin']);
  c.set('answerHeaders', headers);
  await next();
  let res = c.res;
  const rest = headers.slice(carriedAnswerHeaders.get(res) ?? 0);
  if (rest.length === 0) return;
  try {
    setAll(res.headers, rest);
  } catch {
    // Immutable headers (an answer from fetch or the cache, returned as it is): copied once.
    res = new Response(res.body, res);
    setAll(res.headers, rest);
    c.res = res;
  }
};

function setAll(target: Headers, headers: [string, string][]) {
  for (const [name, value] of headers) {
    // Vary names what else the answer depends on: added to, never replaced.
    if (name === 'Vary') target.append(name, value);
    else target.set(name, value);
  }
}

/** A header for the answer, whatever the handler returns (or an error it throws becomes). */
export function answerHeader(c: Context<Env>, name: string, value: string): void {
  const headers = c.get('answerHeaders');
  if (headers) headers.push([name, value]);
  else c.header(name, value);
}
