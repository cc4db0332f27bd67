import { type Context, Hono, type MiddlewareHandler } from 'hono';
import type { Env } from '../env';
import { GatewayError } from '../errors';
import { meteredUserAuth, userAuth } from '../middleware/auth';
import { geminiErrors } from '../protocols/gemini/errors';
import { geminiModelEntry, modelPage } from '../protocols/gemini/models';
import { wireProtocol } from '../providers/table';
import { COUNTING_PROTOCOLS } from '../unified/count-tokens';
import { serveCountTokens, serveGenerateContent } from '../unified/gemini';
import { loadConfig } from '../vault/store';
import { unifiedModels } from './catalog';
import { dialectBodyLimit } from './unified';

// The Gemini-protocol door, for the Google GenAI SDKs and Gemini CLI: one base URL for every
// provider, the model in the path (`/v1beta/models/groq/llama-3.3-70b-versatile:generateContent`).
// The user key comes as x-goog-api-key or ?key= (middleware/auth.ts); errors are told in Google's shape.

/** Errors on these routes are told in Google's shape. */
const geminiDialect: MiddlewareHandler<Env> = async (c, next) => {
  c.set('errorDialect', geminiErrors);
  await next();
};

/** The methods the door answers; anything else on a model is refused before any work. */
const MODEL_CALL = /^(.+):(generateContent|streamGenerateContent|countTokens)$/;

async function chatModels(c: Context<Env>) {
  const { providers } = await loadConfig(c.env);
  return (await unifiedModels(c))
    .filter((model) => model.usage === 'chat')
    .map((model) =>
      geminiModelEntry({
        id: model.id,
        inputTokenLimit: model.context_window,
        outputTokenLimit: model.max_completion_tokens,
        countsTokens: COUNTING_PROTOCOLS.includes(wireProtocol(providers[model.owned_by]!.protocol)),
      }),
    );
}

export const geminiRoutes = new Hono<Env>();

geminiRoutes.get('/v1beta/models', geminiDialect, userAuth, async (c) =>
  c.json(modelPage(await chatModels(c), c.req.query('pageSize'), c.req.query('pageToken'))),
);

geminiRoutes.get('/v1beta/models/:model{.+}', geminiDialect, userAuth, async (c) => {
  const name = `models/${c.req.param('model').replace(/^models\//, '')}`;
  const entry = (await chatModels(c)).find((model) => model.name === name);
  if (!entry) throw new GatewayError(404, `no chat model "${name}" among the gateway's models (names are models/<provider>/<model>)`, 'model_not_found');
  return c.json(entry);
});

geminiRoutes.post('/v1beta/models/:call{.+}', geminiDialect, meteredUserAuth('unified'), dialectBodyLimit, (c) => {
  const call = MODEL_CALL.exec(c.req.param('call'));
  if (!call) {
    throw new GatewayError(
      404,
      `POST ${new URL(c.req.url).pathname} is not a method of this door (generateContent, streamGenerateContent, countTokens)`,
      'operation_not_supported',
    );
  }
  const [, model, method] = call as unknown as [string, string, 'generateContent' | 'streamGenerateContent' | 'countTokens'];
  return method === 'countTokens' ? serveCountTokens(c, model) : serveGenerateContent(c, model, method);
});
