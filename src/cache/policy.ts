import type { Bindings } from '../env';
import { GatewayError } from '../errors';

// What may be cached and for how long: the request's X-Switchyard-Cache-Ttl header, else the vault
// model's `cacheTtl`; only operations whose answer depends on nothing but the request.

export const CACHE_TTL_HEADER = 'X-Switchyard-Cache-Ttl';
/** HIT (the cache, or an identical request already in flight, answered), MISS (this request's own upstream call) or BYPASS. */
export const CACHE_STATUS_HEADER = 'X-Switchyard-Cache';
export const MAX_CACHE_TTL_S = 86_400;

export type CacheStatus = 'HIT' | 'MISS' | 'BYPASS';

const WHOLE_SECONDS = /^\s*\d{1,6}\s*$/;

/**
 * Seconds an answer may be cached: the header when present (0 = do not cache), else the model's
 * vault default, else 0. A header that is not a whole number from 0 to 86 400 is a 400.
 */
export function cacheTtl(headers: Headers, modelTtl: number | undefined): number {
  const raw = headers.get(CACHE_TTL_HEADER);
  if (raw === null) return modelTtl ?? 0;
  const seconds = WHOLE_SECONDS.test(raw) ? Number(raw) : Number.NaN;
  if (!(seconds <= MAX_CACHE_TTL_S)) {
    throw new GatewayError(
      400,
      `header ${CACHE_TTL_HEADER} must be a whole number of seconds from 0 to ${MAX_CACHE_TTL_S}; got ${JSON.stringify(raw.slice(0, 32))}`,
      'invalid_cache_ttl',
    );
  }
  return seconds;
}

// Chat, completions, embeddings, Anthropic messages and Gemini's generate and embed calls (the
// Gemini-protocol door's models may be `provider/model`): the same body asks the same question.
// Images, audio, moderations and token counts are never cached.
const CACHEABLE_OPERATION =
  /^(?:(?:[a-z]+\/)?(?:chat\/completions|embeddings)|completions|messages|models\/[^:]+:(?:generateContent|streamGenerateContent|embedContent|batchEmbedContents))$/;

export const isCacheableOperation = (operation: string) => CACHEABLE_OPERATION.test(operation);

/** Whose answers a cached answer may serve: the user's own (default), or everyone's with CACHE_SCOPE=global. */
export const cacheScope = (env: Pick<Bindings, 'CACHE_SCOPE'>, userId: string) => (env.CACHE_SCOPE === 'global' ? '*' : `user:${userId}`);
