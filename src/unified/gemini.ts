import type { Context } from 'hono';
import * as z from 'zod';
import { cacheCallOf, throughCache } from '../cache/serve';
import type { Env } from '../env';
import { GatewayError } from '../errors';
import { logEvent } from '../log';
import type { ProtocolAdapter, TranslateContext, UpstreamCall } from '../protocols/adapter';
import { ADAPTERS } from '../protocols/registry';
import type { ChatRequest, PivotEvent } from '../protocols/pivot/chat';
import { allowedImageHosts, ImageFetcher } from '../protocols/pivot/images';
import { endOnFailure, SSE_HEADERS, sseEvents } from '../protocols/pivot/sse';
import { camelKeys, geminiOnlyToolsOf, generateContentToPivot } from '../protocols/gemini/client-request';
import { chatToGenerateContentResponse } from '../protocols/gemini/client-response';
import { encodeGenerateContentStream, type GeminiStreamFormat } from '../protocols/gemini/client-stream';
import { geminiErrors } from '../protocols/gemini/errors';
import { geminiModel } from '../protocols/gemini/request';
import { CountTokensRequest, GenerateContentRequest } from '../protocols/gemini/schema';
import { loadConfig } from '../vault/store';
import { readBody } from './body';
import { type Candidate, resolveCandidates } from './candidates';
import { countingCandidates } from './count-tokens';
import { type Attempt, firstServed } from './fallback';
import { fitHostedTools, withDroppedTools } from './hosted-tools';
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

// The Gemini-protocol door: a Gemini client's generateContent, streamGenerateContent and countTokens
// to whichever provider serves the model. A Gemini provider gets the request as the client sent it;
// any other, the request through the pivot, and its answer back in Gemini's shape.

export type GenerateMethod = 'generateContent' | 'streamGenerateContent';

const lostStream: PivotEvent = { failure: { status: 502, message: "the provider's stream broke off; the answer is incomplete" } };

/** The client's body, checked under Google's camelCase names whichever spelling it used. */
const ClientGenerateContent = z.preprocess(camelKeys, GenerateContentRequest);
const ClientCountTokens = z.preprocess(camelKeys, CountTokensRequest);

export async function serveGenerateContent(c: Context<Env>, model: string, method: GenerateMethod): Promise<Response> {
  const operation = `models/${model}:${method}`;
  const body = await readBody(c, { path: operation, kind: 'chat' }, ClientGenerateContent as z.ZodType<Record<string, unknown>>);
  const request = camelKeys(body) as GenerateContentRequest;
  const stream = method === 'streamGenerateContent';
  const format: GeminiStreamFormat = c.req.query('alt') === 'sse' ? 'sse' : 'json-array';
  const candidates = resolveCandidates(await loadConfig(c.env), c.get('user'), c.get('userName'), model);
  await admitCandidates(c, candidates, request);
  const first = candidates[0]!;
  const call = cacheCallOf(c, {
    provider: candidates.map((candidate) => candidate.providerId).join(','),
    model,
    operation,
    search: stream && format === 'sse' ? '?alt=sse' : '',
    body: await c.req.arrayBuffer(),
    modelTtl: first.model.cacheTtl,
    served: { provider: first.providerId, model: first.model.id, entry: first.model, operation },
  });
  return throughCache(call, (signal) => answerGenerateContent(c, { model, method, format, body, request, candidates, signal }));
}

interface GenerateCall {
  model: string;
  method: GenerateMethod;
  format: GeminiStreamFormat;
  /** As the client sent it, for a Gemini provider. */
  body: Record<string, unknown>;
  request: GenerateContentRequest;
  candidates: Candidate[];
  signal: AbortSignal;
}

async function answerGenerateContent(c: Context<Env>, call: GenerateCall): Promise<Response> {
  const { model, method, format, request, signal } = call;
  const stream = method === 'streamGenerateContent';
  let pivot: ChatRequest | undefined;
  const pivotOf = () => (pivot ??= generateContentToPivot(request, model, stream));
  const deadline = chainDeadline(c);
  const images = new ImageFetcher(signal, allowedImageHosts(c.env.IMAGE_FETCH_ALLOW_HOSTS));

  const attempt = async (candidate: Candidate): Promise<Attempt<{ adapter: ProtocolAdapter; ctx: TranslateContext; dropped: string[] }>> => {
    if (candidate.protocol === 'gemini') {
      const upstream = {
        operation: `models/${geminiModel(candidate.model.id)}:${method}`,
        search: stream && format === 'sse' ? '?alt=sse' : '',
        body: call.body,
      };
      return { response: await sendTo(c, candidate, upstream, { incoming: c.req.raw.headers, deadline, signal }) };
    }
    const protocol = viaUnifiedCompat(c, candidate) ? 'openai' : candidate.protocol;
    const adapter = ADAPTERS[protocol];
    const ctx: TranslateContext = { model: candidate.model.id, maxOutputTokens: candidate.model.maxOutputTokens ?? undefined, signal, images };
    const fitted = fitHostedTools(c, candidate, protocol, adapter.chat, { ...pivotOf(), model: candidate.model.id }, ctx);
    const upstream = await adapter.chat.request(fitted.request, ctx);
    const response = await sendTo(c, candidate, upstream, { incoming: translatedHeaders(stream), deadline, signal });
    // Gemini's own tools (code execution, URL context…) have no equivalent elsewhere: always without them.
    const geminiOnly = geminiOnlyToolsOf(request);
    if (geminiOnly.length)
      logEvent(c.env, 'info', { requestId: c.get('requestId'), event: 'hosted_tools_dropped', provider: candidate.providerId, tools: geminiOnly.join(',') });
    return { response, translated: { adapter, ctx, dropped: [...fitted.dropped, ...geminiOnly] } };
  };

  const { response, translated, candidate } = await firstServed(call.candidates, attempt, chainOf(c));
  if (!translated) return labelled(response, candidate);
  if (!response.ok) return translatedError(response, candidate, geminiErrors);
  const { adapter, ctx, dropped } = translated;
  const includeThoughts = request.generationConfig?.thinkingConfig?.includeThoughts === true;
  const answer = (body: BodyInit, headers: Record<string, string>) => withDroppedTools(translatedAnswer(response, candidate, body, headers), dropped);
  if (stream && response.body) {
    const events = endOnFailure(sseEvents(response.body).pipeThrough(adapter.chat.stream(ctx)), () => lostStream);
    const text = events.pipeThrough(encodeGenerateContentStream(model, includeThoughts, format)).pipeThrough(new TextEncoderStream());
    return answer(text, format === 'sse' ? SSE_HEADERS : JSON_HEADERS);
  }
  const completion = adapter.chat.response(await answerJson(response, candidate), ctx);
  return answer(JSON.stringify(chatToGenerateContentResponse(completion, model, includeThoughts)), JSON_HEADERS);
}

type Counter = NonNullable<ProtocolAdapter['countTokens']>;

/**
 * countTokens, answered only where the count is the provider's own: Gemini (passed through, its
 * `generateContentRequest.model` naming the provider's model) and protocols with a counting API.
 */
export async function serveCountTokens(c: Context<Env>, model: string): Promise<Response> {
  const body = await readBody(c, { path: `models/${model}:countTokens`, kind: 'chat' }, ClientCountTokens as z.ZodType<Record<string, unknown>>);
  const request = camelKeys(body) as CountTokensRequest;
  const generate = request.generateContentRequest ?? (request.contents ? { contents: request.contents } : undefined);
  if (!generate?.contents.length) throw new GatewayError(400, 'field "contents" (or "generateContentRequest") is required', 'invalid_body');
  const candidates = await countingCandidates(c, model);
  await admitCandidates(c, candidates, body);
  const deadline = chainDeadline(c);
  const images = new ImageFetcher(c.req.raw.signal, allowedImageHosts(c.env.IMAGE_FETCH_ALLOW_HOSTS));

  const attempt = async (candidate: Candidate): Promise<Attempt<{ counter: Counter }>> => {
    const counter = ADAPTERS[candidate.protocol].countTokens!;
    if (candidate.protocol === 'gemini') {
      const upstreamModel = geminiModel(candidate.model.id);
      const inner = body.generateContentRequest as Record<string, unknown> | undefined;
      const passed = inner ? { ...body, generateContentRequest: { ...inner, model: `models/${upstreamModel}` } } : body;
      const upstream: UpstreamCall = { operation: `models/${upstreamModel}:countTokens`, search: '', body: passed };
      return { response: await sendTo(c, candidate, upstream, { incoming: c.req.raw.headers, deadline }) };
    }
    const ctx: TranslateContext = { model: candidate.model.id, signal: c.req.raw.signal, images };
    const upstream = await counter.request(generateContentToPivot(generate, candidate.model.id, false), ctx);
    return { response: await sendTo(c, candidate, upstream, { incoming: translatedHeaders(false), deadline }), translated: { counter } };
  };

  const { response, translated, candidate } = await firstServed(candidates, attempt, chainOf(c));
  if (!translated) return labelled(response, candidate);
  if (!response.ok) return translatedError(response, candidate, geminiErrors);
  const totalTokens = translated.counter.response(await answerJson(response, candidate));
  return translatedAnswer(response, candidate, JSON.stringify({ totalTokens }), JSON_HEADERS);
}
