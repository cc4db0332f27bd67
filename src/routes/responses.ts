import { Hono } from 'hono';
import type { Env } from '../env';
import { GatewayError } from '../errors';
import { meteredUserAuth, userAuth } from '../middleware/auth';
import { requestBodyLimit } from '../middleware/body-limit';
import { deleteResponse, readResponse } from '../responses/store';
import { serveResponses } from '../unified/responses';

// The OpenAI Responses API: POST /v1/responses for every provider, and the caller's own stored
// responses. The key is accepted as a bearer token or as `x-api-key`.

const notFound = (id: string) => new GatewayError(404, `No response found with id '${id}'.`, 'response_not_found');

export const responsesRoutes = new Hono<Env>();

// Reaching a provider: metered like the other unified routes (rate limit, budget, a usage record).
responsesRoutes.post('/v1/responses', meteredUserAuth('unified'), requestBodyLimit, serveResponses);

responsesRoutes.get('/v1/responses/:id', userAuth, async (c) => {
  const id = c.req.param('id');
  const response = await readResponse(c.env, c.get('userId'), id);
  if (!response) throw notFound(id);
  return c.json(response);
});

responsesRoutes.delete('/v1/responses/:id', userAuth, async (c) => {
  const id = c.req.param('id');
  if (!(await deleteResponse(c.env, c.get('userId'), id))) throw notFound(id);
  return c.json({ id, object: 'response', deleted: true });
});
