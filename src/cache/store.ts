import type { TokenCounts } from '../usage/price';
import { CACHE_STATUS_HEADER } from './policy';

// Answers in the Workers Cache API (caches.default: per Cloudflare location, free, no write limits).
// Each entry is the answer's status, content type, gateway labels and exact body bytes, under a
// synthetic URL that no client can request.

const ENTRY_URL = 'https://cache.switchyard.invalid/answers/';
const STORED_AT = 'x-switchyard-stored-at';
const EXPIRES_AT = 'x-switchyard-expires-at';
/** Header the replay sets to 0: a cached answer took no upstream attempt. */
const ATTEMPTS = 'x-switchyard-attempts';
/** The answer's token counts (input, output, cached): a hit's record shows what it saved. */
const USAGE = 'x-switchyard-usage';
const NOT_REPLAYED = new Set([STORED_AT, EXPIRES_AT, ATTEMPTS, USAGE, CACHE_STATUS_HEADER.toLowerCase()]);

// The DOM lib's CacheStorage type (tsconfig) hides the Workers `default` cache.
const answers = () => (caches as unknown as { default: Cache }).default;

export interface AnswerHead {
  status: number;
  statusText: string;
  headers: [string, string][];
}

/** The headers worth replaying: the content type and the gateway's labels (the provider). */
function replayedHeaders(headers: Iterable<[string, string]>): Headers {
  const out = new Headers();
  for (const [name, value] of headers) {
    if (name === 'content-type' || (name.startsWith('x-switchyard-') && !NOT_REPLAYED.has(name))) out.append(name, value);
  }
  return out;
}

/** A read of the cache, for /healthz: throws when the Cache API does. */
export async function probeCache(): Promise<void> {
  await (await answers().match(`${ENTRY_URL}healthz`))?.body?.cancel();
}

export async function storeAnswer(key: string, ttlS: number, head: AnswerHead, body: Uint8Array<ArrayBuffer>, usage?: TokenCounts, now = Date.now()) {
  const headers = replayedHeaders(head.headers);
  if (usage) headers.set(USAGE, `${usage.input},${usage.output},${usage.cached}`);
  headers.set('cache-control', `max-age=${ttlS}`);
  headers.set(STORED_AT, String(now));
  headers.set(EXPIRES_AT, String(now + ttlS * 1000));
  await answers().put(ENTRY_URL + key, new Response(body, { status: head.status, statusText: head.statusText, headers }));
}

/**
 * The cached answer, when it is younger than both the TTL it was stored with and the reader's `ttlS`
 * (a request asking for answers at most a minute old does not get an hour-old one).
 */
export async function cachedAnswer(key: string, ttlS: number, now = Date.now()): Promise<{ answer: Response; usage?: TokenCounts } | undefined> {
  const entry = await answers().match(ENTRY_URL + key);
  if (!entry) return undefined;
  const ageMs = now - Number(entry.headers.get(STORED_AT));
  if (!(ageMs >= 0 && ageMs < ttlS * 1000 && now < Number(entry.headers.get(EXPIRES_AT)))) {
    await entry.body?.cancel();
    return undefined;
  }
  const headers = replayedHeaders(entry.headers);
  // The gateway's cache is per user (or global by the operator's choice); no cache on the way keeps it.
  headers.set('cache-control', 'no-store');
  headers.set('age', String(Math.floor(ageMs / 1000)));
  headers.set(ATTEMPTS, '0');
  headers.set(CACHE_STATUS_HEADER, 'HIT');
  const stored = entry.headers.get(USAGE)?.split(',').map(Number);
  const usage = stored?.length === 3 && stored.every(Number.isInteger) ? { input: stored[0]!, output: stored[1]!, cached: stored[2]! } : undefined;
  return { answer: new Response(entry.body, { status: entry.status, statusText: entry.statusText, headers }), usage };
}
