import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Env } from '../env';
import { type AttemptBudget, ATTEMPTS_HEADER, send } from '../forward/send';
import { PRIVATE_ANSWER } from '../forward/headers';
import { readCapped } from '../forward/relay';
import { buildTarget } from '../forward/target';
import { settingsOf } from '../limits/settings';
import { type ErrorDialect, errorResponse, GatewayError } from '../errors';
import type { UpstreamCall } from '../protocols/adapter';
import { upstreamErrorMessage } from '../protocols/failures';
import { requestedMaxTokens } from '../usage/price';
import type { Candidate } from './candidates';
import { ROUTE_HEADER } from './routing';

// The unified routes' side of forwarding: one call to one candidate through send(), and the
// answer labelled with the provider that gave it.

export const PROVIDER_HEADER = 'X-Switchyard-Provider';

/** A translated JSON answer: one user's, like every answer (forward/headers.ts). */
export const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', ...PRIVATE_ANSWER };

/**
 * Admit a unified request (rate limit and budget, one call to the user's object) once its candidates
 * are known: the reservation is priced with the dearest of them.
 */
export async function admitCandidates(c: Context<Env>, candidates: Candidate[], body: Record<string, unknown>, expandedBytes = 0): Promise<void> {
  const bodyBytes = (await c.req.arrayBuffer()).byteLength + expandedBytes;
  await c.get('admit')?.({ models: candidates.map((candidate) => candidate.model), bodyBytes, maxTokens: requestedMaxTokens(body) });
}

/** When a unified request must have an answer: one deadline for the whole fallback chain. */
export const chainDeadline = (c: Context<Env>) => Date.now() + settingsOf(c.env).UPSTREAM_DEADLINE_MS;

/** The request's upstream attempts left (MAX_REQUEST_ATTEMPTS): one budget for the whole fallback chain. */
export function attemptBudget(c: Context<Env>): AttemptBudget {
  let budget = c.get('attemptBudget');
  if (!budget) c.set('attemptBudget', (budget = { left: settingsOf(c.env).MAX_REQUEST_ATTEMPTS }));
  return budget;
}

/**
 * What firstServed needs of the request: where to log, the budget that ends the chain when spent, and
 * the id a weighted route draws by (the client's X-Request-Id when it sent one: its retries stay on one provider).
 */
export const chainOf = (c: Context<Env>) => ({
  env: c.env,
  requestId: c.get('requestId'),
  budget: attemptBudget(c),
  routeKey: c.get('clientRequestId') ?? c.get('requestId'),
});

/** Upstream headers for a translated call: the client's own belong to another protocol. */
export const translatedHeaders = (stream: boolean) =>
  new Headers({ 'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json' });

export interface SendToOptions {
  /** The client's headers when its request passes through as it is, else translatedHeaders(). */
  incoming: Headers;
  deadline: number;
  /** Aborts the call (default: the client's request signal; a shared cached call passes its own). */
  signal?: AbortSignal;
}

/**
 * One call through send() (key failover, timeouts). A stream that breaks mid-way ends with an error
 * event in the upstream's own dialect, which the pass-through client reads as it is and translation decodes.
 */
export function sendTo(c: Context<Env>, candidate: Candidate, call: UpstreamCall, options: SendToOptions): Promise<Response> {
  return send({
    providerId: candidate.providerId,
    provider: candidate.provider,
    operation: call.operation,
    search: call.search,
    method: 'POST',
    incoming: options.incoming,
    body: new TextEncoder().encode(JSON.stringify(call.body)).buffer as ArrayBuffer,
    json: call.body,
    model: candidate.model.id,
    env: c.env,
    requestId: c.get('requestId'),
    signal: options.signal ?? c.req.raw.signal,
    deadline: options.deadline,
    tap: c.get('tap'),
    entry: candidate.model,
    attemptBudget: attemptBudget(c),
  });
}

/**
 * Whether chat with this candidate goes to AI Gateway's unified `compat` endpoint, which speaks
 * OpenAI for every provider. buildTarget decides; the key does not change where a call goes.
 */
export function viaUnifiedCompat(c: Context<Env>, candidate: Candidate): boolean {
  const target = buildTarget({
    providerId: candidate.providerId,
    provider: candidate.provider,
    operation: 'chat/completions',
    search: '',
    key: '',
    model: candidate.model.id,
    incoming: new Headers(),
    env: c.env,
  });
  return target.via === 'gateway' && target.url.endsWith('/compat/chat/completions');
}

/** A passed-through answer, with the provider that gave it named (a fetched Response's headers are immutable). */
export function labelled(response: Response, candidate: Candidate): Response {
  const out = new Response(response.body, response);
  out.headers.set(PROVIDER_HEADER, candidate.providerId);
  return out;
}

/** A translated answer: its own body and content headers, plus the provider and the attempt count. */
export function translatedAnswer(upstream: Response, candidate: Candidate, body: BodyInit, headers: Record<string, string>): Response {
  const out = new Response(body, { status: upstream.status, headers });
  out.headers.set(PROVIDER_HEADER, candidate.providerId);
  for (const name of [ATTEMPTS_HEADER, ROUTE_HEADER]) {
    const value = upstream.headers.get(name);
    if (value !== null) out.headers.set(name, value);
  }
  return out;
}

/** An upstream error answer of another protocol, told in the client's dialect with the same status. */
export async function translatedError(response: Response, candidate: Candidate, dialect: ErrorDialect): Promise<Response> {
  const message = upstreamErrorMessage(await response.text(), response.status, candidate.providerId);
  const headers: Record<string, string> = { [PROVIDER_HEADER]: candidate.providerId };
  for (const name of ['retry-after', ATTEMPTS_HEADER, ROUTE_HEADER]) {
    const value = response.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  return errorResponse(response.status as ContentfulStatusCode, message, undefined, headers, dialect);
}

/** The largest JSON answer parsed for translation: far above any real answer, far below an isolate's memory. */
export const MAX_TRANSLATED_JSON_BYTES = 32 * 1024 * 1024;

/** A JSON answer's body, or a 502 when the provider's answer is not JSON or too large to translate. */
export async function answerJson(response: Response, candidate: Candidate): Promise<unknown> {
  const { bytes, complete } = await readCapped(response.body, MAX_TRANSLATED_JSON_BYTES);
  if (!complete) {
    throw new GatewayError(
      502,
      `provider "${candidate.providerId}" sent an answer over ${MAX_TRANSLATED_JSON_BYTES / (1024 * 1024)} MiB, too large to translate`,
      'upstream_too_large',
    );
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new GatewayError(502, `provider "${candidate.providerId}" sent an answer that is not valid JSON`, 'upstream_invalid_json');
  }
}
