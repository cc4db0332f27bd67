import type { ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { logEvent } from '../log';

// The one error shape (OpenAI's): {"error":{"message","type","code"}}.

const DEFAULTS: Record<number, { type: string; code: string }> = {
  400: { type: 'invalid_request_error', code: 'bad_request' },
  401: { type: 'authentication_error', code: 'invalid_api_key' },
  403: { type: 'permission_error', code: 'forbidden' },
  404: { type: 'not_found_error', code: 'not_found' },
  405: { type: 'invalid_request_error', code: 'method_not_allowed' },
  413: { type: 'invalid_request_error', code: 'request_too_large' },
  429: { type: 'rate_limit_error', code: 'rate_limited' },
  500: { type: 'api_error', code: 'internal_error' },
  501: { type: 'api_error', code: 'not_implemented' },
  502: { type: 'upstream_error', code: 'bad_gateway' },
  503: { type: 'api_error', code: 'service_unavailable' },
  504: { type: 'timeout_error', code: 'upstream_timeout' },
};

export class GatewayError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
    readonly code?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

export function errorResponse(
  status: ContentfulStatusCode,
  message: string,
  code?: string,
  headers: Record<string, string> = {},
): Response {
  const fallback = DEFAULTS[status] ?? DEFAULTS[status >= 500 ? 500 : 400]!;
  return new Response(JSON.stringify({ error: { message, type: fallback.type, code: code ?? fallback.code } }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}

export const onError: ErrorHandler = (err, c) => {
  if (err instanceof GatewayError) return errorResponse(err.status, err.message, err.code, err.headers);
  if (err instanceof HTTPException) {
    const res = err.getResponse();
    if (res.headers.get('content-type')?.includes('json')) return res;
    return errorResponse(err.status, err.message || res.statusText || 'request refused');
  }
  logEvent(c.env, 'error', { requestId: c.get('requestId'), message: err instanceof Error ? err.message : String(err) });
  return errorResponse(500, 'internal error in the gateway; the request id identifies it in the logs');
};

export const notFound: NotFoundHandler = (c) =>
  errorResponse(404, `no route for ${c.req.method} ${new URL(c.req.url).pathname}`, 'route_not_found');
