import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Bindings } from '../env';
import { settingsOf } from '../limits/settings';
import { logEvent } from '../log';
import { type ErrorDialect, errorResponse, GatewayError, openaiErrors } from '../errors';
import { wireProtocol } from '../providers/table';
import { StreamCounter, usageFormat, usageFromJson } from '../usage/extract';
import type { UsageTap } from '../usage/tap';
import type { Model, Provider, ProviderKey } from '../vault/schema';
import { carrying, downstreamHeaders, upstreamHeaders } from './headers';
import { promptAffinity } from './affinity';
import { expectedTokens, headroomOf, noteHeadroom, reserveHeadroom } from './headroom';
import { reportSignals, shareFailure, shareRecovery, syncKeyHealth } from './key-health';
import { keyIsRefused } from './key-check';
import { affinityRotation, type FailureKind, keyRotation, keySucceeded, restKey } from './keys';
import {
  abortable,
  type BodyReader,
  bodyReader,
  CLIENT_CLOSED,
  MAX_ERROR_BODY_BYTES,
  MAX_SSE_EVENT_BYTES,
  readCapped,
  readHead,
  relay,
  type RelayFailure,
  SseFramer,
  sseDataIsJson,
  UpstreamTooLarge,
} from './relay';
import { isRetryableStatus, providerWaitMs } from './retry';
import { withoutProviderState } from './provider-state';
import { buildTarget } from './target';
import { Watchdog } from './watchdog';
import { anthropicErrors } from '../protocols/anthropic/errors';
import { noUsableKey } from '../providers/lookup';

export interface SendRequest {
  providerId: string;
  provider: Provider;
  operation: string;
  search: string;
  method: string;
  incoming: Headers;
  /** The request body, read once: replayed as it is on every attempt. */
  body: ArrayBuffer | null;
  /** The parsed JSON body, when the body is JSON: re-serialised only when the gateway changes it (model, `store`, usage). */
  json?: Record<string, unknown>;
  model?: string;
  env: Bindings;
  requestId?: string;
  /** The client's request signal: when it aborts, so does the upstream request. */
  signal?: AbortSignal;
  /**
   * When an answer must have begun, in ms since the epoch (default: now + UPSTREAM_DEADLINE_MS). A
   * fallback chain passes one deadline to every provider it tries.
   */
  deadline?: number;
  /** The dialect of the SSE error event that ends a stream cut mid-way (default: the upstream's). */
  streamErrorDialect?: ErrorDialect;
  /** Metering: told of every attempt, the answer's token counts, and the stream's end. */
  tap?: UsageTap;
  /** The vault's entry for `model` (its prices), for the usage record. */
  entry?: Model;
  /** Upstream attempts left for the whole client request: a fallback chain passes one budget to every provider it tries. */
  attemptBudget?: AttemptBudget;
  /** The headers every answer of the request gets (middleware/answer-headers.ts): an answer made here is made with them. */
  answerHeaders?: readonly (readonly [string, string])[];
}

/** What is left of one client request's upstream attempts (MAX_REQUEST_ATTEMPTS), shared by every send() it makes. */
export interface AttemptBudget {
  left: number;
}

/** What metering changes in a request: an OpenAI stream is asked for usage the client did not ask for. */
interface Metered {
  json?: Record<string, unknown>;
  /** The usage chunk the gateway asked for is not passed to the client. */
  hideUsageChunk: boolean;
}

function metered(req: SendRequest): Metered {
  const json = req.json;
  const asksUsage = (json?.stream_options as { include_usage?: unknown } | null | undefined)?.include_usage === true;
  if (!req.tap || json?.stream !== true || asksUsage || !/^(chat\/)?completions$/.test(req.operation) || usageFormat(req.operation) !== 'openai') {
    return { json, hideUsageChunk: false };
  }
  const streamOptions = typeof json.stream_options === 'object' && json.stream_options !== null ? json.stream_options : {};
  return { json: { ...json, stream_options: { ...streamOptions, include_usage: true } }, hideUsageChunk: true };
}

/** The response header counting the upstream attempts behind an answer. */
export const ATTEMPTS_HEADER = 'X-Switchyard-Attempts';

/** Longest a request waits for a resting key to be ready rather than skipping it. */
const MAX_KEY_WAIT_MS = 1_000;
/** JSON answers up to this size are read whole and checked before they are committed to the client. */
const MAX_CHECKED_JSON_BYTES = 8 * 1024 * 1024;

/** A failed attempt: why, how long its key rests, and what the client gets if it was the last one. */
interface Failed {
  kind: FailureKind;
  reason: string;
  /** The upstream's HTTP status; none for a timeout or a network error. */
  status?: number;
  /** The provider's own wait (Retry-After, reset headers). */
  waitMs?: number;
  /** The upstream's error answer (scrubbed), or else the gateway's error. */
  answer: Response | GatewayError;
}

type Outcome = { answer: Response } | { failed: Failed };

/**
 * Forward one request upstream. Attempts that fail before anything reached the client (401, 403, 408,
 * 429, 5xx, a network error, a timeout, an unreadable JSON answer) are replayed with the provider's
 * next key, at most MAX_ATTEMPTS times and once per usable key. Returns the first usable answer
 * (streamed as it arrives) or, when keys run out, the last upstream error answer; throws a
 * GatewayError (502, 503, 504) when there is no upstream answer to give.
 */
export async function send(req: SendRequest): Promise<Response> {
  // Before anything is sent: a body naming state kept at the provider is refused, `store: false` added.
  const json = withoutProviderState(req.providerId, req.provider, req.operation, req.json);
  const settings = settingsOf(req.env);
  const deadline = req.deadline ?? Date.now() + settings.UPSTREAM_DEADLINE_MS;
  const affinity = promptAffinity(req.json);
  await syncKeyHealth(req.env, req.providerId, req.provider.keys);
  const tokens = expectedTokens(req.body?.byteLength ?? 0, req.json);
  const now = Date.now();
  const turns =
    affinity === undefined
      ? keyRotation(req.providerId, req.provider.keys, now, tokens)
      : affinityRotation(req.providerId, req.provider.keys, affinity, now, tokens);
  if (turns.length === 0) {
    throw noUsableKey(`provider "${req.providerId}"`, { [ATTEMPTS_HEADER]: '0' });
  }
  const budget = req.attemptBudget ?? { left: settings.MAX_REQUEST_ATTEMPTS };
  let attempts = 0;
  let last: Failed | undefined;
  const meter = metered({ ...req, json });
  for (const turn of turns) {
    if (attempts >= settings.MAX_ATTEMPTS || budget.left <= 0 || Date.now() >= deadline) break;
    const wait = turn.readyAt - Date.now();
    // Turns are ordered by readiness: once one rests too long for this request, so do the rest.
    if (wait > Math.min(MAX_KEY_WAIT_MS, deadline - Date.now())) break;
    if (wait > 0) await sleep(wait, req.signal);
    if (req.signal?.aborted) throw clientClosed();
    attempts++;
    budget.left--;
    reserveHeadroom(req.providerId, turn.key.key, tokens);
    req.tap?.attempt({
      provider: req.providerId,
      model: req.model,
      entry: req.entry,
      operation: req.operation,
      stream: req.json?.stream === true || isStreamingOperation(req.operation),
    });
    const outcome = await attempt(req, turn.key, deadline, settings, meter);
    if (req.tap?.attemptLog) {
      const keyIndex = req.provider.keys.indexOf(turn.key);
      if ('answer' in outcome) req.tap.attemptEnded(keyIndex, outcome.answer.status, undefined);
      else req.tap.attemptEnded(keyIndex, outcome.failed.status, outcome.failed.reason);
    }
    if ('answer' in outcome) {
      if (outcome.answer.status < 400 && keySucceeded(req.providerId, turn.key.key)) shareRecovery(req.env, req.providerId, turn.key.key);
      return withAttempts(outcome.answer, attempts);
    }
    last = outcome.failed;
    // A 403 the request itself caused is the client's answer: the key works, it neither rests nor is replaced.
    if (last.reason === 'http_403' && last.answer instanceof Response && !(await keyIsRefused({ ...req, key: turn.key.key }))) {
      return withAttempts(last.answer, attempts);
    }
    const rest = restKey(req.providerId, turn.key.key, last.kind, last.waitMs);
    shareFailure(req.env, req.providerId, turn.key.key, rest, last.status ?? null, last.reason);
    logEvent(req.env, 'info', {
      requestId: req.requestId,
      provider: req.providerId,
      event: 'attempt_failed',
      attempt: attempts,
      keyIndex: req.provider.keys.indexOf(turn.key),
      reason: last.reason,
      ...(last.waitMs !== undefined ? { providerWaitMs: Math.round(last.waitMs) } : {}),
    });
  }
  if (!last) {
    if (Date.now() >= deadline) throw timedOut(req, attempts);
    if (budget.left <= 0) {
      throw new GatewayError(503, 'the request used up its upstream attempts', 'upstream_attempts_exhausted', { [ATTEMPTS_HEADER]: String(attempts) });
    }
    const waitS = Math.max(1, Math.ceil((turns[0]!.readyAt - Date.now()) / 1000));
    throw new GatewayError(
      503,
      `every key of provider "${req.providerId}" is resting after failures or out of its rate limit; retry in ${waitS} s`,
      'provider_keys_resting',
      {
        'Retry-After': String(waitS),
        [ATTEMPTS_HEADER]: String(attempts),
      },
    );
  }
  if (last.answer instanceof Response) return withAttempts(last.answer, attempts);
  throw new GatewayError(last.answer.status, last.answer.message, last.answer.code, { ...last.answer.headers, [ATTEMPTS_HEADER]: String(attempts) });
}

const TIMED_OUT = 'timed_out';

async function attempt(req: SendRequest, key: ProviderKey, deadline: number, settings: ReturnType<typeof settingsOf>, meter: Metered): Promise<Outcome> {
  const target = buildTarget({ ...req, key: key.key });
  const body =
    target.model && meter.json ? JSON.stringify({ ...meter.json, model: target.model }) : meter.json !== req.json ? JSON.stringify(meter.json) : req.body;
  const upstream = new AbortController();
  const onClientAbort = () => upstream.abort(CLIENT_CLOSED);
  req.signal?.addEventListener('abort', onClientAbort);
  const watchdog = new Watchdog(() => upstream.abort(TIMED_OUT));
  const arm = (ms: number) => watchdog.expireAt(Math.min(Date.now() + ms, deadline));
  let relaying = false;
  let reader: BodyReader | undefined;
  const started = Date.now();
  let observed = false;
  try {
    arm(settings.UPSTREAM_FIRST_BYTE_TIMEOUT_MS);
    const res = await abortable(
      fetch(target.url, { method: req.method, headers: upstreamHeaders(req.incoming, target.headers), body, signal: upstream.signal }),
      upstream.signal,
    );
    // The status line arrived; the body (or its first event) must follow without a long silence.
    arm(settings.UPSTREAM_IDLE_TIMEOUT_MS);
    req.tap?.firstByte();
    const firstByteAt = Date.now();
    observed = true;
    observeAnswer(req, key.key, res, firstByteAt - started);
    const carried = req.answerHeaders?.length ?? 0;
    const headers = downstreamHeaders(res.headers, req.answerHeaders);
    const init = { status: res.status, statusText: res.statusText, headers };
    const answerOf = (body: BodyInit | null) => carrying(new Response(body, init), carried);
    if (res.status >= 400) {
      const { bytes } = await readCapped(res.body, MAX_ERROR_BODY_BYTES, upstream.signal);
      const text = scrubSecrets(decoder.decode(bytes), secretsOf(req));
      const answer = carrying(upstreamError(req.providerId, text, init), carried);
      req.tap?.answered(undefined, upstreamErrorCode(text, res.status));
      if (!isRetryableStatus(res.status)) return { answer };
      const kind: FailureKind = res.status === 401 || res.status === 402 || res.status === 403 ? 'auth' : res.status === 429 ? 'rate' : 'server';
      const waitMs = res.status === 429 || res.status === 503 ? providerWaitMs(res.headers) : undefined;
      return { failed: { kind, reason: `http_${res.status}`, status: res.status, waitMs, answer } };
    }
    if (!res.body) {
      req.tap?.answered(undefined);
      return { answer: answerOf(null) };
    }

    const contentType = res.headers.get('content-type') ?? '';
    const framer = contentType.includes('text/event-stream') ? new SseFramer() : undefined;
    const whole = !framer && contentType.includes('json') && !isStreamingOperation(req.operation);
    // A JSON answer of known size, not compressed, is read in one call: in workerd a reader's reads
    // cost several times more (bench/hot-path.ts). Other bodies are read through the reader.
    const size = res.headers.has('content-encoding') ? Number.NaN : Number(res.headers.get('content-length') ?? Number.NaN);
    if (whole && size <= MAX_CHECKED_JSON_BYTES) {
      const bytes = new Uint8Array(await abortable(res.arrayBuffer(), upstream.signal));
      const json = parseJson(bytes);
      if (json === INVALID) return invalidJson(req.providerId);
      const usage = usageFromJson(usageFormat(req.operation), json);
      req.tap?.answered(usage);
      observeThroughput(req, key.key, usage?.output, started);
      return { answer: answerOf(bytes) };
    }
    reader = bodyReader(res.body, upstream.signal);
    const head = await readHead(reader, { framer, whole, maxBytes: MAX_CHECKED_JSON_BYTES });
    const wholeJson = !framer && whole && head.done ? parseJson(head.bytes) : undefined;
    if ((framer && !sseDataIsJson(head.bytes)) || wholeJson === INVALID) {
      void reader.cancel().catch(() => {});
      return invalidJson(req.providerId);
    }
    watchdog.stop();
    // Counted: SSE, Gemini's streamed JSON array, a JSON answer too large to be checked whole.
    const counted = req.tap && (framer || whole || isStreamingOperation(req.operation));
    const counter = counted ? new StreamCounter(usageFormat(req.operation), meter.hideUsageChunk) : undefined;
    const inspect = counter && (framer ? (bytes: Uint8Array) => counter.events(bytes) : (bytes: Uint8Array) => (counter.raw(bytes), bytes));
    // Read whole already (a JSON answer, a stream that ended within its first event): sent as it is,
    // with no relay stream in JavaScript between the upstream's bytes and the client.
    if (head.done) {
      if (wholeJson !== undefined) req.tap?.answered(usageFromJson(usageFormat(req.operation), wholeJson));
      else if (counter) {
        const bytes = inspect!(head.bytes) as Uint8Array<ArrayBuffer>;
        req.tap!.streaming(counter)('done');
        return { answer: answerOf(bytes) };
      }
      return { answer: answerOf(head.bytes) };
    }
    relaying = true;
    const streamEnded = counter && req.tap!.streaming(counter);
    const dialect = req.streamErrorDialect ?? upstreamDialect(req);
    const stream = relay({
      reader,
      head,
      framer,
      idleTimeoutMs: settings.UPSTREAM_IDLE_TIMEOUT_MS,
      errorEvent: (failure) => streamErrorEvent(dialect, req.providerId, failure),
      upstream,
      onFailure: (failure) =>
        logEvent(req.env, 'error', {
          requestId: req.requestId,
          provider: req.providerId,
          event: 'stream_failed',
          reason: failure,
          keyIndex: req.provider.keys.indexOf(key),
        }),
      onEnd: (ending) => {
        req.signal?.removeEventListener('abort', onClientAbort);
        streamEnded?.(ending);
        if (counter && ending === 'done') observeThroughput(req, key.key, counter.result(ending, 0).counts.output, firstByteAt);
      },
      inspect,
    });
    return { answer: answerOf(stream) };
  } catch (err) {
    reader?.cancel().catch(() => {});
    const reason: unknown = upstream.signal.reason;
    if (reason === CLIENT_CLOSED || req.signal?.aborted) throw clientClosed();
    if (!observed) reportSignals(req.env, req.providerId, key.key, { outcome: 'error' });
    if (reason === TIMED_OUT) return { failed: { kind: 'server', reason: 'timeout', answer: timedOut(req) } };
    // Not the key's fault and no other key would answer smaller: the client is told, no key rests.
    if (err instanceof UpstreamTooLarge) throw eventTooLarge(req.providerId);
    return {
      failed: {
        kind: 'server',
        reason: err instanceof Error ? `network_${err.name}` : 'network',
        answer: new GatewayError(502, `provider "${req.providerId}" could not be reached`, 'upstream_unreachable'),
      },
    };
  } finally {
    watchdog.stop();
    if (!relaying) req.signal?.removeEventListener('abort', onClientAbort);
  }
}

/** Routing signals from an answer's status line: its outcome, time to first byte (answers only) and the key's headroom. */
function observeAnswer(req: SendRequest, key: string, res: Response, ttfbMs: number) {
  const headroom = headroomOf(res.headers);
  if (headroom) noteHeadroom(req.providerId, key, headroom);
  const outcome = res.status < 400 ? 'ok' : res.status === 429 ? 'refused' : res.status === 408 || res.status >= 500 ? 'error' : 'other';
  reportSignals(req.env, req.providerId, key, { outcome, ttfbMs: outcome === 'ok' ? ttfbMs : undefined, headroom });
}

/** Tokens per second of an answer: output tokens over the time since `from` (a stream's first byte, a JSON answer's request). */
function observeThroughput(req: SendRequest, key: string, outputTokens: number | undefined, from: number) {
  const seconds = (Date.now() - from) / 1000;
  if (outputTokens && seconds > 0) reportSignals(req.env, req.providerId, key, { tokensPerSecond: outputTokens / seconds });
}

const invalidJson = (providerId: string): Outcome => ({
  failed: {
    kind: 'server',
    reason: 'invalid_json',
    answer: new GatewayError(502, `provider "${providerId}" sent an answer that is not valid JSON`, 'upstream_invalid_json'),
  },
});

const withAttempts = (response: Response, attempts: number) => {
  response.headers.set(ATTEMPTS_HEADER, String(attempts));
  return response;
};

function timedOut(req: SendRequest, attempts?: number) {
  return new GatewayError(
    504,
    `provider "${req.providerId}" did not answer in time`,
    'upstream_timeout',
    attempts === undefined ? {} : { [ATTEMPTS_HEADER]: String(attempts) },
  );
}

// 499: nginx's "client closed request". Nobody reads it; it stops a fallback chain (not 502/503/504).
const clientClosed = () => new GatewayError(499 as ContentfulStatusCode, 'the client closed the request', 'client_closed_request');

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Gemini's `:streamGenerateContent` without `alt=sse` streams one JSON array: never read it whole. */
const isStreamingOperation = (operation: string) => /:stream/i.test(operation);

/** The provider's own error code (OpenAI `error.code` or `type`, Anthropic `error.type`, Gemini `error.status`). */
function upstreamErrorCode(text: string, status: number): string {
  const json = parseJson(text) as { error?: { code?: unknown; type?: unknown; status?: unknown } } | typeof INVALID;
  const error = json !== INVALID && typeof json === 'object' && json !== null ? json.error : undefined;
  const code = [error?.code, error?.type, error?.status].find((value) => typeof value === 'string' && value.length > 0 && value.length <= 64);
  return (code as string | undefined) ?? `http_${status}`;
}

const INVALID = Symbol('invalid JSON');

const decoder = new TextDecoder();

/** The JSON value of a body, parsed once (validity check and usage counts), or INVALID. */
function parseJson(text: string | Uint8Array): unknown {
  try {
    return JSON.parse(typeof text === 'string' ? text : decoder.decode(text));
  } catch {
    return INVALID;
  }
}

const isJsonText = (text: string) => parseJson(text) !== INVALID;

/** Anthropic's native `messages` streams use `event: error`; every other stream `data: {"error":…}`. */
const upstreamDialect = (req: SendRequest): ErrorDialect =>
  wireProtocol(req.provider.protocol) === 'anthropic' && req.operation === 'messages' ? anthropicErrors : openaiErrors;

const eventTooLarge = (providerId: string) =>
  new GatewayError(502, `provider "${providerId}" sent a stream event over ${MAX_SSE_EVENT_BYTES / (1024 * 1024)} MiB`, 'upstream_too_large');

function streamErrorEvent(dialect: ErrorDialect, providerId: string, failure: RelayFailure): string {
  if (failure === 'event_too_large') {
    const error = eventTooLarge(providerId);
    return dialect.streamFrame(502, `${error.message}; the answer is incomplete`, error.code);
  }
  const [status, code, message] =
    failure === 'idle_timeout'
      ? [504, 'upstream_timeout', `provider "${providerId}" fell silent mid-stream; the answer is incomplete`]
      : [502, 'upstream_stream_failed', `provider "${providerId}" broke off the stream; the answer is incomplete`];
  return dialect.streamFrame(status, message, code);
}

/**
 * An upstream error answer for the client: a JSON body (the provider's own error shape) passes as it
 * is; anything else (an HTML error page, plain text) becomes the gateway's JSON error shape, with the
 * upstream status and headers.
 */
function upstreamError(providerId: string, text: string, init: { status: number; headers: Record<string, string> }): Response {
  if (isJsonText(text)) return new Response(text, init);
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  const detail = snippet && !snippet.startsWith('<') ? `: ${snippet}` : '';
  const response = errorResponse(init.status as ContentfulStatusCode, `provider "${providerId}" answered HTTP ${init.status}${detail}`, 'upstream_error');
  for (const [name, value] of Object.entries(init.headers)) {
    if (name !== 'content-type') response.headers.set(name, value);
  }
  return response;
}

/** Every secret an upstream might echo back: the provider's keys and the gateway's own tokens. */
const secretsOf = (req: SendRequest) =>
  [...req.provider.keys.map((k) => k.key), req.env.CLOUDFLARE_AIG_TOKEN, req.env.AI_JSON_CRYPTOKEN].filter((s): s is string => !!s);

/** An upstream error body with every secret it echoes replaced. */
export function scrubSecrets(text: string, secrets: string[]): string {
  // Longest first, so a key that contains another is replaced whole.
  return [...secrets].sort((a, b) => b.length - a.length).reduce((out, secret) => out.replaceAll(secret, '[redacted]'), text);
}
