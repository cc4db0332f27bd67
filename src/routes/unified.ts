import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Env } from '../env';
import { meteredUserAuth } from '../middleware/auth';
import { MAX_REQUEST_BYTES, requestBodyLimit } from '../middleware/body-limit';
import { GatewayError } from '../errors';
import { anthropicClient } from '../protocols/anthropic/adapter';
import { openaiClient } from '../protocols/openai/adapter';
import { serveChat } from '../unified/chat';
import { serveCountTokens } from '../unified/count-tokens';
import { serveEmbeddings } from '../unified/embeddings';
import { serveImages } from '../unified/images';
import { anthropicErrors } from '../protocols/anthropic/errors';

// One base URL for every provider: the model picks the provider. OpenAI-compatible routes, and
// Anthropic's Messages API for tools built on the Anthropic SDK. (GET /v1/models is in catalog.ts.)

/** Errors on these routes are told in Anthropic's shape. */
const anthropicDialect: MiddlewareHandler<Env> = async (c, next) => {
  c.set('errorDialect', anthropicErrors);
  await next();
};

// Thrown rather than returned, so that onError tells it in the route's dialect.
export const dialectBodyLimit = bodyLimit({
  maxSize: MAX_REQUEST_BYTES,
  onError: () => {
    throw new GatewayError(413, `request body is larger than ${MAX_REQUEST_BYTES / (1024 * 1024)} MiB`, 'request_too_large');
  },
});

export const unifiedRoutes = new Hono<Env>();

const userAuth = meteredUserAuth('unified');

unifiedRoutes.post('/v1/chat/completions', userAuth, requestBodyLimit, (c) => serveChat(c, openaiClient));
unifiedRoutes.post('/v1/embeddings', userAuth, requestBodyLimit, serveEmbeddings);
unifiedRoutes.post('/v1/images/generations', userAuth, requestBodyLimit, serveImages);

unifiedRoutes.post('/v1/messages', anthropicDialect, userAuth, dialectBodyLimit, (c) => serveChat(c, anthropicClient));
unifiedRoutes.post('/v1/messages/count_tokens', anthropicDialect, userAuth, dialectBodyLimit, serveCountTokens);
