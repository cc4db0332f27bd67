import type { Context } from 'hono';
import { cacheCallOf, throughCache } from '../cache/serve';
import type { Env } from '../env';
import { type ClientDialect, type ProtocolAdapter, type TranslateContext } from '../protocols/adapter';
import { ADAPTERS } from '../protocols/registry';
import type { ChatRequest, PivotEvent } from '../protocols/pivot/chat';
import { allowedImageHosts, ImageFetcher } from '../protocols/pivot/images';
import { endOnFailure, SSE_HEADERS, sseEvents } from '../protocols/pivot/sse';
import { loadConfig } from '../vault/store';
import { readBody } from './body';
import { fitHostedTools, fitPassedThroughHostedTools, withDroppedTools } from './hosted-tools';
import { type Candidate, resolveCandidates } from './candidates';
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
  viaUnifiedCompat,
} from './upstream';

// A chat request in any client dialect (OpenAI Chat Completions, Anthropic Messages) to whichever
// provider serves the model: passed through when the provider speaks the client's protocol (natively
// or through AI Gateway's unified endpoint), translated through the pivot otherwise.

const lostStream: PivotEvent = { failure: { status: 502, message: "the provider's stream broke off; the answer is incomplete" } };

export async function serveChat<Body extends Record<string, unknown>>(c: Context<Env>, client: ClientDialect<Body>): Promise<Response> {
  const body = await readBody(c, { path: client.chatOperation, kind: 'chat' }, client.schema);
  const candidates = resolveCandidates(await loadConfig(c.env), c.get('user'), c.get('userName'), String(body.model));
  await admitCandidates(c, candidates, body);
  const call = cacheCallOf(c, {
    provider: candidates.map((candidate) => candidate.providerId).join(','),
    model: String(body.model),
    operation: client.chatOperation,
    search: '',
    body: await c.req.arrayBuffer(),
    modelTtl: candidates[0]!.model.cacheTtl,
    served: { provider: candidates[0]!.providerId, model: candidates[0]!.model.id, entry: candidates[0]!.model, operation: client.chatOperation },
  });
  return throughCache(call, (signal) => answerChat(c, client, body, candidates, signal));
}

async function answerChat<Body extends Record<string, unknown>>(
  c: Context<Env>,
  client: ClientDialect<Body>,
  body: Body,
  candidates: Candidate[],
  signal: AbortSignal,
): Promise<Response> {
  const stream = body.stream === true;
  let pivot: ChatRequest | undefined;
  const pivotOf = () => (pivot ??= client.toPivot(body));
  const deadline = chainDeadline(c);
  const images = new ImageFetcher(signal, allowedImageHosts(c.env.IMAGE_FETCH_ALLOW_HOSTS));

  // The hosted tools the serving candidate went without (hosted-tools.ts).
  let dropped: string[] = [];
  const attempt = async (candidate: Candidate): Promise<Attempt<{ adapter: ProtocolAdapter; ctx: TranslateContext }>> => {
    const upstream = candidate.protocol === client.protocol || !viaUnifiedCompat(c, candidate) ? candidate.protocol : 'openai';
    if (upstream === client.protocol) {
      const passed = client.passThrough(body, c.req.raw.headers);
      const fitted = upstream === 'openai' ? fitPassedThroughHostedTools(c, candidate, passed) : { body: passed, dropped: [] };
      dropped = fitted.dropped;
      const call = { operation: client.chatOperation, search: '', body: { ...fitted.body, model: candidate.model.id } };
      return { response: await sendTo(c, candidate, call, { incoming: c.req.raw.headers, deadline, signal }) };
    }
    const adapter = ADAPTERS[upstream];
    const ctx: TranslateContext = { model: candidate.model.id, maxOutputTokens: candidate.model.maxOutputTokens ?? undefined, signal, images };
    const fitted = fitHostedTools(c, candidate, upstream, adapter.chat, { ...pivotOf(), model: candidate.model.id }, ctx);
    dropped = fitted.dropped;
    const call = await adapter.chat.request(fitted.request, ctx);
    const response = await sendTo(c, candidate, call, { incoming: translatedHeaders(stream), deadline, signal });
    return { response, translated: { adapter, ctx } };
  };

  const { response, translated, candidate } = await firstServed(candidates, attempt, chainOf(c));
  if (!translated) {
    const renamed = client.renameAnswerModel && response.ok && body.model !== candidate.model.id;
    return withDroppedTools(labelled(renamed ? await client.renameAnswerModel!(response, String(body.model)) : response, candidate), dropped);
  }
  if (!response.ok) return translatedError(response, candidate, client.errorDialect);
  const { adapter, ctx } = translated;
  if (stream && response.body) {
    const events = endOnFailure(sseEvents(response.body).pipeThrough(adapter.chat.stream(ctx)), () => lostStream);
    const text = events.pipeThrough(client.streamFromPivot(pivotOf())).pipeThrough(new TextEncoderStream());
    return withDroppedTools(translatedAnswer(response, candidate, text, SSE_HEADERS), dropped);
  }
  const answer = client.fromPivot(adapter.chat.response(await answerJson(response, candidate), ctx), pivotOf());
  return withDroppedTools(translatedAnswer(response, candidate, JSON.stringify(answer), JSON_HEADERS), dropped);
}
