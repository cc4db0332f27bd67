import type { Context } from 'hono';
import { cacheCallOf, throughCache } from '../cache/serve';
import type { Env } from '../env';
import { GatewayError, openaiErrors } from '../errors';
import { type EmbeddingsTranslation, type TranslateContext } from '../protocols/adapter';
import { ADAPTERS } from '../protocols/registry';
import type { WireProtocol } from '../providers/table';
import { EmbeddingsRequest } from '../protocols/pivot/embeddings';
import { loadConfig } from '../vault/store';
import { type Candidate, resolveCandidates } from './candidates';
import { readBody } from './body';
import { type Attempt, firstServed } from './fallback';
import {
  admitCandidates,
  answerJson,
  chainDeadline,
  chainOf,
  JSON_HEADERS,
  labelled,
  sendTo,
  translatedAnswer,
  translatedError,
  translatedHeaders,
} from './upstream';

// POST /v1/embeddings: OpenAI-protocol providers get the request as it is; others with an
// embeddings API (Gemini) get it translated.

const EMBEDDING_PROTOCOLS: WireProtocol[] = [
  'openai',
  ...(Object.entries(ADAPTERS) as [WireProtocol, (typeof ADAPTERS)[WireProtocol]][]).filter(([, a]) => a.embeddings).map(([p]) => p),
];

export async function serveEmbeddings(c: Context<Env>): Promise<Response> {
  const body = await readBody(c, { path: 'embeddings', kind: 'embedding' }, EmbeddingsRequest);
  const candidates = resolveCandidates(await loadConfig(c.env), c.get('user'), c.get('userName'), body.model, {
    protocols: EMBEDDING_PROTOCOLS,
    refusal: (protocols) =>
      new GatewayError(400, `model "${body.model}" is offered only by providers without an embeddings API (${protocols})`, 'unsupported_operation'),
  });
  await admitCandidates(c, candidates, body);
  const call = cacheCallOf(c, {
    provider: candidates.map((candidate) => candidate.providerId).join(','),
    model: body.model,
    operation: 'embeddings',
    search: '',
    body: await c.req.arrayBuffer(),
    modelTtl: candidates[0]!.model.cacheTtl,
    served: { provider: candidates[0]!.providerId, model: candidates[0]!.model.id, entry: candidates[0]!.model, operation: 'embeddings' },
  });
  return throughCache(call, (signal) => answerEmbeddings(c, body, candidates, signal));
}

async function answerEmbeddings(c: Context<Env>, body: EmbeddingsRequest, candidates: Candidate[], signal: AbortSignal): Promise<Response> {
  const deadline = chainDeadline(c);

  const attempt = async (candidate: Candidate): Promise<Attempt<{ translation: EmbeddingsTranslation; ctx: TranslateContext }>> => {
    const translation = candidate.protocol === 'openai' ? undefined : ADAPTERS[candidate.protocol].embeddings;
    if (!translation) {
      const call = { operation: 'embeddings', search: '', body: { ...body, model: candidate.model.id } };
      return { response: await sendTo(c, candidate, call, { incoming: c.req.raw.headers, deadline, signal }) };
    }
    const ctx: TranslateContext = { model: candidate.model.id, signal };
    const response = await sendTo(c, candidate, translation.request(body, ctx), { incoming: translatedHeaders(false), deadline, signal });
    return { response, translated: { translation, ctx } };
  };

  const { response, translated, candidate } = await firstServed(candidates, attempt, chainOf(c));
  if (!translated) return labelled(response, candidate);
  if (!response.ok) return translatedError(response, candidate, openaiErrors);
  const answer = translated.translation.response(await answerJson(response, candidate), body, translated.ctx);
  return translatedAnswer(response, candidate, JSON.stringify(answer), JSON_HEADERS);
}
