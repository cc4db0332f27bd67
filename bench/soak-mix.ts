// What the soak sends: a weighted mix of request kinds, each sent once by `sendOne`, which reads the
// answer to its end (or leaves a stream after its first chunk) and says whether the gateway owes it a
// usage record: it does when it reached a provider (X-Switchyard-Attempts ≥ 1) or answered from its cache.
import type { Fault, StandIn } from '../dev/stand-ins/server';
import { type FaultProvider, type UserName, USERS } from './soak-rig';

export const KINDS = [
  'json',
  'stream',
  'chat→anthropic',
  'chat→gemini',
  'messages→groq',
  'responses→groq',
  'cache',
  'abort',
  'fault-500',
  'fault-429',
  'fault-reset',
  'fault-json',
  'fault-fatal',
  'budget',
  'rate-limit',
] as const;
export type Kind = (typeof KINDS)[number];

/** Out of 100. */
const WEIGHTS: Record<Kind, number> = {
  json: 18,
  stream: 14,
  'chat→anthropic': 6,
  'chat→gemini': 6,
  'messages→groq': 6,
  'responses→groq': 6,
  cache: 12,
  abort: 8,
  'fault-500': 3,
  'fault-429': 3,
  'fault-reset': 3,
  'fault-json': 3,
  'fault-fatal': 2,
  budget: 5,
  'rate-limit': 5,
};

/**
 * The fault a kind queues on the stand-in before it sends, on its own provider (whose one model has the
 * provider's name). At most one is queued per kind: a request its provider refuses (every key resting)
 * leaves its fault for the next one instead of piling faults up.
 */
const FAULTS: Partial<Record<Kind, { provider: FaultProvider; stream: boolean; fault: Omit<Fault, 'model'> }>> = {
  // One key fails, the next answers: recovered.
  'fault-500': { provider: 'flaky-500', stream: false, fault: { status: 500 } },
  'fault-429': { provider: 'flaky-429', stream: true, fault: { status: 429, retryAfter: 0 } },
  'fault-json': { provider: 'flaky-json', stream: false, fault: { invalidJson: true } },
  // Cut after two events: too late to replay, the stream ends with an error event.
  'fault-reset': { provider: 'flaky-reset', stream: true, fault: { resetAfterChunks: 2 } },
  // Every attempt fails: the client gets the error.
  'fault-fatal': { provider: 'flaky-fatal', stream: false, fault: { status: 500, times: 3 } },
};

const CACHE_VARIANTS = 4;
const REQUEST_TIMEOUT_MS = 30_000;
/** Words in a prompt the stand-in echoes one word per event: a stream long enough to leave mid-way. */
const LONG_PROMPT = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');

interface Plan {
  user: UserName;
  path: string;
  body: unknown;
  headers?: Record<string, string>;
  stream: boolean;
  abort?: boolean;
}

const chat = (model: string, content: string, stream = false) => ({ model, stream, max_tokens: 64, messages: [{ role: 'user', content }] });

function planOf(kind: Kind, n: number): Plan {
  const odd = n % 2 === 1;
  const text = `soak ${kind} ${n}`;
  const fault = FAULTS[kind];
  if (fault) return { user: 'soak', path: `/${fault.provider}/v1/chat/completions`, body: chat(fault.provider, text, fault.stream), stream: fault.stream };
  switch (kind) {
    case 'json':
      return { user: 'soak', path: '/groq/v1/chat/completions', body: chat('llama-3.3-70b-versatile', text), stream: false };
    case 'stream':
      return { user: 'soak', path: '/groq/v1/chat/completions', body: chat('llama-3.3-70b-versatile', `${text} with a few more words`, true), stream: true };
    case 'chat→anthropic':
      return { user: 'soak', path: '/v1/chat/completions', body: chat('anthropic/claude-sonnet-4-5', text, odd), stream: odd };
    case 'chat→gemini':
      return { user: 'soak', path: '/v1/chat/completions', body: chat('gemini/gemini-2.0-flash', text, odd), stream: odd };
    case 'messages→groq':
      return { user: 'soak', path: '/v1/messages', body: chat('groq/llama-3.3-70b-versatile', text, odd), stream: odd };
    case 'responses→groq':
      return { user: 'soak', path: '/v1/responses', body: { model: 'groq/llama-3.3-70b-versatile', input: text, stream: odd }, stream: odd };
    case 'cache':
      // A few bodies asked again and again: the first of each (and the first after its TTL) is a MISS.
      return {
        user: 'soak',
        path: '/groq/v1/chat/completions',
        body: chat('llama-3.3-70b-versatile', `soak cached question ${n % CACHE_VARIANTS}`),
        headers: { 'x-switchyard-cache-ttl': '600' },
        stream: false,
      };
    case 'abort':
      return { user: 'soak', path: '/groq/v1/chat/completions', body: chat('llama-3.3-70b-versatile', LONG_PROMPT, true), stream: true, abort: true };
    case 'budget':
      return { user: 'tiny', path: '/groq/v1/chat/completions', body: chat('llama-3.3-70b-versatile', text), stream: false };
    case 'rate-limit':
      return { user: 'paced', path: '/groq/v1/chat/completions', body: chat('llama-3.3-70b-versatile', text), stream: false };
  }
  throw new Error(`no plan for ${kind}`);
}

export interface Outcome {
  kind: Kind;
  user: UserName;
  /** The gateway's X-Request-Id; undefined when no answer came. */
  id?: string;
  /** 0: no answer (a network error or the timeout). */
  status: number;
  /** The error's code (an error answer, or the error event that ended a stream). */
  code?: string;
  cache?: string;
  /** The client left after the first chunk. */
  aborted: boolean;
  /** The gateway reached a provider or its cache for it: it owes a usage record. */
  owesRecord: boolean;
  /** No answer: what went wrong. */
  failure?: string;
}

/** The error code of an error body in any of the dialects (OpenAI's `code`, Anthropic's `type`, the Responses `error` event). */
function errorCode(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const record = value as { type?: unknown; code?: unknown; error?: unknown; response?: { error?: unknown } };
  if (record.error && typeof record.error === 'object') {
    const error = record.error as { code?: unknown; type?: unknown };
    return String(error.code ?? error.type ?? 'error');
  }
  if (record.type === 'error') return String(record.code ?? 'error');
  if (record.type === 'response.failed') return errorCode(record.response) ?? 'response.failed';
  return undefined;
}

/** The code of the first error event of an SSE body, if any. */
function streamError(text: string): string | undefined {
  for (const block of text.split(/\r?\n\r?\n/)) {
    const data = block
      .split(/\r?\n/)
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trim())
      .join('\n');
    if (/^event:\s*error\s*$/m.test(block)) return errorCode(safeJson(data)) ?? 'error';
    if (data && data !== '[DONE]') {
      const code = errorCode(safeJson(data));
      if (code) return code;
    }
  }
  return undefined;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Small seeded generator (mulberry32): the same seed sends the same sequence of kinds. */
export function picker(seed: number): () => Kind {
  let state = seed >>> 0;
  const total = KINDS.reduce((sum, kind) => sum + WEIGHTS[kind], 0);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    let roll = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * total;
    for (const kind of KINDS) {
      roll -= WEIGHTS[kind];
      if (roll < 0) return kind;
    }
    return KINDS[0];
  };
}

export async function sendOne(gatewayUrl: string, standIn: StandIn, kind: Kind, n: number): Promise<Outcome> {
  const plan = planOf(kind, n);
  const fault = FAULTS[kind];
  if (fault && !standIn.faults.some((queued) => queued.model === fault.provider)) standIn.addFault({ model: fault.provider, ...fault.fault });
  const outcome: Outcome = { kind, user: plan.user, status: 0, aborted: false, owesRecord: false };
  const client = new AbortController();
  const timer = setTimeout(() => client.abort(new Error(`no answer within ${REQUEST_TIMEOUT_MS / 1000} s`)), REQUEST_TIMEOUT_MS);
  try {
    const res = await fetch(`${gatewayUrl}${plan.path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${USERS[plan.user].key}`, 'content-type': 'application/json', ...plan.headers },
      body: JSON.stringify(plan.body),
      signal: client.signal,
    });
    outcome.id = res.headers.get('x-request-id') ?? undefined;
    outcome.status = res.status;
    outcome.cache = res.headers.get('x-switchyard-cache') ?? undefined;
    outcome.owesRecord = Number(res.headers.get('x-switchyard-attempts')) >= 1 || outcome.cache === 'HIT';
    if (plan.abort && res.ok && res.body) {
      const reader = res.body.getReader();
      await reader.read();
      client.abort();
      outcome.aborted = true;
      await reader.cancel().catch(() => {});
      return outcome;
    }
    const text = await res.text();
    outcome.code = res.ok ? (plan.stream ? streamError(text) : undefined) : (errorCode(safeJson(text)) ?? `http_${res.status}`);
  } catch (err) {
    outcome.failure = err instanceof Error ? (err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message) : String(err);
  } finally {
    clearTimeout(timer);
  }
  return outcome;
}
