import type { Context } from 'hono';
import { createParser } from 'eventsource-parser';
import type { Env } from '../env';
import { GatewayError, openaiErrors } from '../errors';
import { logEvent } from '../log';
import { type ProtocolAdapter, type TranslateContext } from '../protocols/adapter';
import { ADAPTERS } from '../protocols/registry';
import { inputItems, responsesToChat } from '../protocols/responses/request';
import { chatToResponse, type ResponseMeta, responseMeta } from '../protocols/responses/response';
import { ResponseObject, ResponsesRequest } from '../protocols/responses/schema';
import { encodeResponsesStream } from '../protocols/responses/stream';
import { speaksResponsesApi } from '../providers/table';
import { readConversation, storeTurn } from '../responses/store';
import type { ChatRequest, PivotEvent } from '../protocols/pivot/chat';
import { allowedImageHosts, ImageFetcher } from '../protocols/pivot/images';
import { endOnFailure, SSE_HEADERS, sseEvents } from '../protocols/pivot/sse';
import { loadConfig } from '../vault/store';
import { readBody } from './body';
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

// POST /v1/responses for every provider: passed through to providers that serve the Responses API,
// translated through the Chat Completions pivot for the rest. The gateway keeps the stored
// conversations itself (per user), so previous_response_id means the same whoever answers: the
// stored turns are prepended to the input, and no provider ever sees another user's response id.

const lostStream: PivotEvent = { failure: { status: 502, message: "the provider's stream broke off; the answer is incomplete" } };

export async function serveResponses(c: Context<Env>): Promise<Response> {
  const body = await readBody(c, { path: 'responses', kind: 'chat' }, ResponsesRequest);
  const userName = c.get('userName');
  const candidates = resolveCandidates(await loadConfig(c.env), c.get('user'), userName, body.model);
  await admitCandidates(c, candidates, body);
  const history = body.previous_response_id ? await readConversation(c.env.DB, userName, body.previous_response_id) : [];
  const input = inputItems(body.input);
  const stream = body.stream === true;
  const store = body.store !== false;
  let pivot: ChatRequest | undefined;
  const pivotOf = () => (pivot ??= responsesToChat(body, history));
  const deadline = chainDeadline(c);
  // One image fetcher per request: each URL fetched once, one count and byte budget for every candidate.
  const images = new ImageFetcher(c.req.raw.signal, allowedImageHosts(c.env.IMAGE_FETCH_ALLOW_HOSTS));

  /** Keeps a finished response with this turn's input; a failure to store is logged, never the client's. */
  const keep = async (response: Record<string, unknown> & { id: string }) => {
    if (!store || (response.status !== 'completed' && response.status !== 'incomplete')) return;
    try {
      const stored = await storeTurn(c.env.DB, userName, body.previous_response_id, { input, response });
      if (!stored) logEvent(c.env, 'info', { requestId: c.get('requestId'), event: 'response_not_stored', reason: 'too_large' });
    } catch (err) {
      logEvent(c.env, 'error', { requestId: c.get('requestId'), event: 'response_not_stored', message: err instanceof Error ? err.message : String(err) });
    }
  };

  const attempt = async (candidate: Candidate): Promise<Attempt<{ adapter: ProtocolAdapter; ctx: TranslateContext }>> => {
    if (speaksResponsesApi(candidate.providerId, candidate.provider)) {
      const { previous_response_id: _continued, ...rest } = body;
      const native = { ...rest, model: candidate.model.id, ...(history.length ? { input: [...history, ...input] } : {}) };
      const call = { operation: 'responses', search: '', body: native };
      return { response: await sendTo(c, candidate, call, { incoming: c.req.raw.headers, deadline }) };
    }
    const upstream = candidate.protocol === 'openai' || viaUnifiedCompat(c, candidate) ? 'openai' : candidate.protocol;
    const adapter = ADAPTERS[upstream];
    const ctx: TranslateContext = {
      model: candidate.model.id,
      maxOutputTokens: candidate.model.maxOutputTokens ?? undefined,
      signal: c.req.raw.signal,
      images,
    };
    const call = await adapter.chat.request({ ...pivotOf(), model: candidate.model.id }, ctx);
    const response = await sendTo(c, candidate, call, { incoming: translatedHeaders(stream), deadline });
    return { response, translated: { adapter, ctx } };
  };

  const { response, translated, candidate } = await firstServed(candidates, attempt, chainOf(c));
  if (!translated) return passedThrough(c, response, candidate, body, keep);
  if (!response.ok) return translatedError(response, candidate, openaiErrors);
  const { adapter, ctx } = translated;
  const meta: ResponseMeta = responseMeta(body, candidate.model.id);
  if (stream && response.body) {
    const events = endOnFailure(sseEvents(response.body).pipeThrough(adapter.chat.stream(ctx)), () => lostStream);
    const text = events.pipeThrough(encodeResponsesStream(meta, { onDone: keep })).pipeThrough(new TextEncoderStream());
    return translatedAnswer(response, candidate, text, SSE_HEADERS);
  }
  const answer = chatToResponse(adapter.chat.response(await answerJson(response, candidate), ctx), meta);
  await keep(answer);
  return translatedAnswer(response, candidate, JSON.stringify(answer), JSON_HEADERS);
}

type Keep = (response: Record<string, unknown> & { id: string }) => Promise<void>;

/**
 * A native provider's answer, as it came. A JSON answer is read to be stored (with the
 * previous_response_id the provider never saw); a stream passes byte for byte, watched for its
 * final event, which waits for the store so that the next turn finds it.
 */
async function passedThrough(c: Context<Env>, response: Response, candidate: Candidate, body: ResponsesRequest, keep: Keep): Promise<Response> {
  if (!response.ok || !response.body) return labelled(response, candidate);
  const continued = { previous_response_id: body.previous_response_id ?? null };
  if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const parsed = ResponseObject.safeParse(await answerJson(response, candidate));
    if (!parsed.success)
      throw new GatewayError(502, `provider "${candidate.providerId}" answered with a Response the gateway cannot read`, 'upstream_unreadable');
    const answer = body.previous_response_id ? { ...parsed.data, ...continued } : parsed.data;
    await keep(answer);
    return translatedAnswer(response, candidate, JSON.stringify(answer), JSON_HEADERS);
  }
  let final: (Record<string, unknown> & { id: string }) | undefined;
  const parser = createParser({
    onEvent(event) {
      if (event.event !== 'response.completed' && event.event !== 'response.incomplete') return;
      const parsed = ResponseObject.safeParse((JSON.parse(event.data) as { response?: unknown }).response);
      if (parsed.success) final = { ...parsed.data, ...continued };
    },
  });
  const decoder = new TextDecoder();
  const watched = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, controller) {
        try {
          parser.feed(decoder.decode(chunk, { stream: true }));
        } catch {
          // Not a Response event the gateway can read: the client still gets it as it is.
        }
        if (final) {
          await keep(final);
          final = undefined;
        }
        controller.enqueue(chunk);
      },
    }),
  );
  return labelled(new Response(watched, response), candidate);
}
