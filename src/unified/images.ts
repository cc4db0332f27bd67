import type { Context } from 'hono';
import * as z from 'zod';
import type { Env } from '../env';
import { GatewayError } from '../errors';
import { loadConfig } from '../vault/store';
import { resolveCandidates } from './candidates';
import { readBody } from './body';
import { firstServed } from './fallback';
import { admitCandidates, chainDeadline, chainOf, labelled, sendTo } from './upstream';

// POST /v1/images/generations: only OpenAI-protocol providers have this operation; the request
// passes through as it is, with the fallback chain of the unified routes.

const ImagesRequest = z.looseObject({
  model: z.string({ error: 'field "model" is required: it picks the provider' }).min(1, 'field "model" must not be empty'),
  prompt: z.string({ error: 'field "prompt" is required' }),
});

export async function serveImages(c: Context<Env>): Promise<Response> {
  const body = await readBody(c, { path: 'images/generations', kind: 'other' }, ImagesRequest);
  const candidates = resolveCandidates(await loadConfig(c.env), c.get('user'), c.get('userName'), body.model, {
    protocols: ['openai'],
    refusal: (protocols) =>
      new GatewayError(400, `model "${body.model}" is offered only by providers without an OpenAI images API (${protocols})`, 'unsupported_operation'),
  });
  await admitCandidates(c, candidates, body);
  const deadline = chainDeadline(c);
  const { response, candidate } = await firstServed(
    candidates,
    async (candidate) => {
      const call = { operation: 'images/generations', search: '', body: { ...body, model: candidate.model.id } };
      return { response: await sendTo(c, candidate, call, { incoming: c.req.raw.headers, deadline }) };
    },
    chainOf(c),
  );
  return labelled(response, candidate);
}
