import type { ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Env } from '../env';
import { errorResponse, GatewayError } from '../errors';
import { logEvent } from '../log';

// Hono's error and not-found handlers: every refusal leaves in the one error shape (src/errors.ts).

export const onError: ErrorHandler<Env> = (err, c) => {
  const dialect = c.get('errorDialect');
  if (err instanceof GatewayError) return errorResponse(err.status, err.message, err.code, err.headers, dialect);
  if (err instanceof HTTPException) {
    const res = err.getResponse();
    if (res.headers.get('content-type')?.includes('json')) return res;
    return errorResponse(err.status, err.message || res.statusText || 'request refused', undefined, {}, dialect);
  }
  logEvent(c.env, 'error', { requestId: c.get('requestId'), message: err instanceof Error ? err.message : String(err) });
  return errorResponse(500, 'internal error in the gateway; the request id identifies it in the logs', undefined, {}, dialect);
};

export const notFound: NotFoundHandler = (c) => errorResponse(404, `no route for ${c.req.method} ${new URL(c.req.url).pathname}`, 'route_not_found');
