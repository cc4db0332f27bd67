import type { Context } from 'hono';
import { createParser } from 'eventsource-parser';
import type { Env } from '../env';
import { GatewayError, openaiErrors } from '../errors';
import { logEvent } from '../log';
import { type ProtocolAdapter, type TranslateContext } from '../protocols/adapter';
import { ADAPTERS } from '../protocols/registry';
import { inputItems, responsesToChat } from '../protocols/responses/request';
import { chatToResponse, type ResponseMeta, responseMeta } from '../protocols/responses/response';
import { isGatewayReasoning } from '../protocols/responses/reasoning';
import { ResponseObject, ResponsesRequest } from '../protocols/responses/schema';
import { encodeResponsesStream } from '../protocols/responses/stream';
import { speaksResponsesApi } from '../providers/table';
import { isStoredReasoning } from '../forward/provider-state';
import { readConversation, storeTurn } from '../responses/store';
import type { ChatRequest, PivotEvent } from '../protocols/pivot/chat';
import { allowedImageHosts, ImageFetcher } from '../protocols/pivot/images';
import { endOnFailure, SSE_HEADERS, sseEvents } from '../protocols/pivot/sse';
import { loadConfig } from '../vault/store';
import { readBody } from './body';
import { fitHostedTools, withDroppedTools } from './hosted-tools';
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

/**
 * On a JSON answer that asked to be stored: `true` once it is, `false` when it could not be (D1
 * unavailable, or larger than a row), so the client knows a later previous_response_id to it is a 404.
 * A stream's headers leave before its end, when the turn is stored: it has no such header.
 */
const STORED_HEADER = 'X-Switchyard-Stored';

const storedHeaders = (stored: boolean | undefined) => (stored === undefined ? JSON_HEADERS : { ...JSON_HEADERS, [STORED_HEADER]: String(stored) });

export async function serveResponses(c: Context<Env>): Promise<Response> {
  const body = await readBody(c, { path: 'responses', kind: 'chat' }, ResponsesRequest);
  const userId = c.get('userId');
  const candidates = resolveCandidates(await loadConfig(c.env), c.get('user'), c.get('userName'), body.model);
  // The stored conversation is read before the budget is asked: it is sent with the request, so the
  // reservation is sized from the expanded request, not from the few bytes that name it.
  const history = body.previous_response_id ? await readConversation(c.env, userId, body.previous_response_id) : [];
  await admitCandidates(c, candidates, body, history.length ? new TextEncoder().encode(JSON.stringify(history)).byteLength : 0);
  const input = inputItems(body.input);
  const stream = body.stream === true;
  const store = body.store !== false;
  let pivot: ChatRequest | undefined;
  const pivotOf = () => (pivot ??= responsesToChat(body, history));
  const deadline = chainDeadline(c);
  // One image fetcher per request: each URL fetched once, one count and byte budget for every candidate.
  const images = new ImageFetcher(c.req.raw.signal, allowedImageHosts(c.env.IMAGE_FETCH_ALLOW_HOSTS));

  /** Keeps a finished response with this turn's input: whether it was (undefined: not asked); a failure is logged, never the client's. */
  const keep: Keep = async (response) => {
    if (!store || (response.status !== 'completed' && response.status !== 'incomplete')) return undefined;
    try {
      const stored = await storeTurn(c.env, userId, body.previous_response_id, { input, response });
      if (!stored) logEvent(c.env, 'info', { requestId: c.get('requestId'), event: 'response_not_stored', reason: 'too_large' });
      return stored;
    } catch (err) {
      logEvent(c.env, 'error', { requestId: c.get('requestId'), event: 'response_not_stored', message: err instanceof Error ? err.message : String(err) });
      return false;
    }
  };

  const attempt = async (candidate: Candidate): Promise<Attempt<{ adapter: ProtocolAdapter; ctx: TranslateContext; dropped: string[] }>> => {
    if (speaksResponsesApi(candidate.providerId, candidate.provider)) {
      const { previous_response_id: _continued, ...rest } = body;
      // send() makes the call `store: false` unless the provider allows its own state: the stored turns'
      // reasoning items it would then look up by id are left out (translation leaves every one out), and
      // so are the reasoning items this gateway wrote for another provider's thinking.
      const replayed = candidate.provider.providerState ? history : history.filter((item) => !isStoredReasoning(item));
      const items = [...replayed, ...input].filter((item) => !isGatewayReasoning(item));
      const native = { ...rest, model: candidate.model.id, ...(items.length !== input.length || history.length ? { input: items } : {}) };
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
    const { request, dropped } = fitHostedTools(c, candidate, upstream, adapter.chat, { ...pivotOf(), model: candidate.model.id }, ctx);
    const call = await adapter.chat.request(request, ctx);
    const response = await sendTo(c, candidate, call, { incoming: translatedHeaders(stream), deadline });
    return { response, translated: { adapter, ctx, dropped } };
  };

  const { response, translated, candidate } = await firstServed(candidates, attempt, chainOf(c));
  if (!translated) return passedThrough(c, response, candidate, body, keep);
  if (!response.ok) return translatedError(response, candidate, openaiErrors);
  const { adapter, ctx, dropped } = translated;
  const meta: ResponseMeta = responseMeta(body, candidate.model.id);
  if (stream && response.body) {
    const events = endOnFailure(sseEvents(response.body).pipeThrough(adapter.chat.stream(ctx)), () => lostStream);
    const text = events.pipeThrough(encodeResponsesStream(meta, { onDone: keep })).pipeThrough(new TextEncoderStream());
    return withDroppedTools(translatedAnswer(response, candidate, text, SSE_HEADERS), dropped);
  }
  const answer = chatToResponse(adapter.chat.response(await answerJson(response, candidate), ctx), meta);
  const stored = await keep(answer);
  return withDroppedTools(translatedAnswer(response, candidate, JSON.stringify(answer), storedHeaders(stored)), dropped);
}

type Keep = (response: Record<string, unknown> & { id: string }) => Promise<boolean | undefined>;

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
    const stored = await keep(answer);
    return translatedAnswer(response, candidate, JSON.stringify(answer), storedHeaders(stored));
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
