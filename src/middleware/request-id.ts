import type { MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import type { Env } from '../env';
import { timeOrderedId } from '../request-ids';
import { answerHeader, CLIENT_REQUEST_ID_HEADER } from './answer-headers';

// Every request gets the gateway's own id (a UUIDv7: src/request-ids.ts says why): usage records, budget settles and stored state are
// keyed by it, so it must never be the client's choice (a reused id once let duplicates skip the meter).
// A client's own X-Request-Id is kept as a label only: echoed as X-Client-Request-Id and written to the
// usage record as `client_request_id`.

/** What a client's id may look like to be kept: short, and safe in a header and a log line. */
const CLIENT_ID = /^[\w\-=.:]{1,128}$/;

// headerName '' makes Hono's middleware ignore the client's header and always generate.
const gatewayRequestId = requestId({ headerName: '', generator: () => timeOrderedId() });

export const requestIds: MiddlewareHandler<Env> = (c, next) =>
  gatewayRequestId(c, async () => {
    answerHeader(c, 'X-Request-Id', c.get('requestId'));
    const clientId = c.req.header('x-request-id');
    if (clientId !== undefined && CLIENT_ID.test(clientId)) {
      c.set('clientRequestId', clientId);
      answerHeader(c, CLIENT_REQUEST_ID_HEADER, clientId);
    }
    await next();
  });
