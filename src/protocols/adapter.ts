import type { z } from 'zod';
import type { ErrorDialect } from '../errors';
import type { ChatCompletion, ChatRequest, PivotEvent } from './pivot/chat';
import type { EmbeddingsRequest, EmbeddingsResponse } from './pivot/embeddings';
import type { ImageFetcher } from './pivot/images';
import type { EventSourceMessage } from './pivot/sse';
import type { WireProtocol } from '../providers/table';

// Translation goes through one pivot, OpenAI Chat Completions: each wire protocol turns the pivot
// into its own request and its answers (JSON or SSE) back into the pivot; each client dialect turns
// its requests into the pivot and the pivot into its answers.

/** What a translation knows about the call besides the request. */
export interface TranslateContext {
  /** The model id as the upstream knows it. */
  model: string;
  /** The vault's output limit for the model (Anthropic requires `max_tokens`). */
  maxOutputTokens?: number;
  signal?: AbortSignal;
  /** The request's image fetches (one per request, shared by every translation of it: each URL is fetched once). */
  images?: ImageFetcher;
}

export interface UpstreamCall {
  /** Path after the API base, e.g. `messages`, `models/gemini-2.0-flash:streamGenerateContent`. */
  operation: string;
  search: string;
  body: Record<string, unknown>;
}

/** Chat in a provider's protocol. */
export interface ChatTranslation {
  request(req: ChatRequest, ctx: TranslateContext): Promise<UpstreamCall>;
  response(json: unknown, ctx: TranslateContext): ChatCompletion;
  /** The provider's SSE events as pivot events, as they arrive. */
  stream(ctx: TranslateContext): TransformStream<EventSourceMessage, PivotEvent>;
  /** Whether the protocol runs the request's `web_search_options` as its own search; absent: never. */
  webSearch?(req: ChatRequest, ctx: TranslateContext): boolean;
}

/** Embeddings in a provider's protocol. */
export interface EmbeddingsTranslation {
  request(req: EmbeddingsRequest, ctx: TranslateContext): UpstreamCall;
  response(json: unknown, req: EmbeddingsRequest, ctx: TranslateContext): EmbeddingsResponse;
}

export interface ProtocolAdapter {
  /** The provider-auth headers for one key; `incoming` are the client's request headers. */
  authHeaders(key: string, incoming: Headers): Record<string, string>;
  chat: ChatTranslation;
  /** Absent when the protocol has no embeddings. */
  embeddings?: EmbeddingsTranslation;
  /** Counting a pivot request's input tokens with the provider's own tokenizer, when the protocol has an API for it. */
  countTokens?: {
    request(req: ChatRequest, ctx: TranslateContext): Promise<UpstreamCall>;
    response(json: unknown): number;
  };
}

/** How the clients of a protocol are served from the pivot. */
export interface ClientDialect<Body extends Record<string, unknown> = Record<string, unknown>> {
  protocol: WireProtocol;
  errorDialect: ErrorDialect;
  /** The chat operation of this protocol, for a provider that speaks it natively. */
  chatOperation: string;
  /** The client's request body, checked for what translation reads. */
  schema: z.ZodType<Body>;
  toPivot(body: Body): ChatRequest;
  /** The request as it goes, untranslated, to a provider of the client's own protocol. */
  passThrough(body: Body, incoming: Headers): Body;
  /** A pivot completion as this client's answer to `req`. */
  fromPivot(completion: ChatCompletion, req: ChatRequest): unknown;
  /** Pivot events as this client's SSE text. */
  streamFromPivot(req: ChatRequest): TransformStream<PivotEvent, string>;
  /**
   * A passed-through 2xx answer (JSON or SSE) naming `model`, the model as the client asked for it,
   * for a protocol whose clients depend on that name. Absent: the provider's answer goes as it is.
   */
  renameAnswerModel?(answer: Response, model: string): Promise<Response>;
}
