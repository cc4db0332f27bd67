import { type Headroom, newerHeadroom } from '../limits/signals';
import { requestedMaxTokens } from '../usage/price';
import { durationMs, instantMs } from './retry';

// What each provider key may still send, as its provider last said in the rate-limit headers of an
// answer, less what this isolate has sent on it since. Per isolate and synchronous, like the resting
// keys (keys.ts); other isolates' readings arrive with the shared signals (key-health.ts), and the
// newer reading wins.

const known = new Map<string, Headroom>();
const headroomId = (providerId: string, key: string) => `${providerId}\n${key}`;

type Parse = (value: string, now: number) => number | undefined;
const duration: Parse = (value) => durationMs(value);

/** Remaining-count header, reset header and how the reset is written, per limit kind. */
const HEADERS: Record<'requests' | 'tokens', [remaining: string, reset: string, parse: Parse][]> = {
  requests: [
    ['x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests', duration],
    ['anthropic-ratelimit-requests-remaining', 'anthropic-ratelimit-requests-reset', instantMs],
  ],
  // Anthropic counts input and output tokens apart as well: the tightest of its limits decides.
  tokens: [
    ['x-ratelimit-remaining-tokens', 'x-ratelimit-reset-tokens', duration],
    ['anthropic-ratelimit-tokens-remaining', 'anthropic-ratelimit-tokens-reset', instantMs],
    ['anthropic-ratelimit-input-tokens-remaining', 'anthropic-ratelimit-input-tokens-reset', instantMs],
    ['anthropic-ratelimit-output-tokens-remaining', 'anthropic-ratelimit-output-tokens-reset', instantMs],
  ],
};

/** The tightest limit of a kind the headers report: what remains, and when it resets. */
function tightest(headers: Headers, kind: 'requests' | 'tokens', now: number): { remaining: number; resetAt: number } | undefined {
  let best: { remaining: number; resetAt: number } | undefined;
  for (const [remainingName, resetName, parse] of HEADERS[kind]) {
    const text = headers.get(remainingName)?.trim();
    if (!text || !/^\d+$/.test(text)) continue;
    const remaining = Number(text);
    const resetText = headers.get(resetName);
    const resetMs = resetText === null ? undefined : parse(resetText, now);
    // Without a reset nothing says until when the count holds: such a reading is not used.
    if (resetMs === undefined || !Number.isFinite(resetMs)) continue;
    const resetAt = now + Math.max(0, resetMs);
    if (!best || remaining < best.remaining) best = { remaining, resetAt };
  }
  return best;
}

/**
 * The headroom an answer reports (OpenAI and Groq `x-ratelimit-*`, resets as durations such as `6m0s`;
 * Anthropic `anthropic-ratelimit-*`, resets as RFC 3339 instants), or undefined when it reports none.
 */
export function headroomOf(headers: Headers, now = Date.now()): Headroom | undefined {
  const requests = tightest(headers, 'requests', now);
  const tokens = tightest(headers, 'tokens', now);
  if (!requests && !tokens) return undefined;
  return {
    at: now,
    ...(requests ? { requests: requests.remaining, requestsResetAt: requests.resetAt } : {}),
    ...(tokens ? { tokens: tokens.remaining, tokensResetAt: tokens.resetAt } : {}),
  };
}

/** The tokens a request may count against a key's limit: its body at about 4 bytes a token, plus its output limit (providers count `max_tokens` on arrival). */
export function expectedTokens(bodyBytes: number, json: Record<string, unknown> | undefined): number {
  return Math.ceil(bodyBytes / 4) + (requestedMaxTokens(json) ?? 0);
}

/** This isolate's own answer said so: it replaces what was known. */
export function noteHeadroom(providerId: string, key: string, headroom: Headroom) {
  known.set(headroomId(providerId, key), headroom);
}

/** Another isolate's reading (the shared signals): kept when it is newer. */
export function adoptHeadroom(providerId: string, key: string, headroom: Headroom) {
  const id = headroomId(providerId, key);
  const own = known.get(id);
  // A copy: reserveHeadroom changes it in place.
  if (own !== newerHeadroom(own, headroom)) known.set(id, { ...headroom });
}

/** A request is on its way with this key: what it may count comes off the key's known headroom. */
export function reserveHeadroom(providerId: string, key: string, tokens: number, now = Date.now()) {
  const room = known.get(headroomId(providerId, key));
  if (!room) return;
  if (room.requests !== undefined && (room.requestsResetAt ?? 0) > now) room.requests--;
  // Tokens are an estimate: they make a key short, never exhausted (only its provider's word does).
  if (room.tokens !== undefined && (room.tokensResetAt ?? 0) > now && room.tokens > 0) room.tokens = Math.max(1, room.tokens - tokens);
}

export interface Room {
  /** The key is exhausted until then (its provider said so); 0 when it is not. */
  until: number;
  /** It has requests left but fewer tokens than this request may count: try it after the keys that have room. */
  short: boolean;
}

const OPEN: Room = { until: 0, short: false };

/** Whether a key has room for a request of `tokens` expected tokens, as far as this isolate knows. */
export function roomFor(providerId: string, key: string, tokens: number, now = Date.now()): Room {
  const room = known.get(headroomId(providerId, key));
  if (!room) return OPEN;
  let until = 0;
  let short = false;
  if (room.requests !== undefined && room.requestsResetAt! > now && room.requests <= 0) until = room.requestsResetAt!;
  if (room.tokens !== undefined && room.tokensResetAt! > now) {
    if (room.tokens <= 0) until = Math.max(until, room.tokensResetAt!);
    else if (room.tokens < tokens) short = true;
  }
  return until === 0 && !short ? OPEN : { until, short };
}

/** What this isolate knows of a key's headroom (tests, the operator's view). */
export const knownHeadroom = (providerId: string, key: string): Headroom | undefined => known.get(headroomId(providerId, key));
