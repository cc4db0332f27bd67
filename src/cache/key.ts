import { bytesToBase64Url } from '../base64';

// The cache key: SHA-256 over who may share the answer, where it comes from and the exact request.

export interface CacheSubject {
  /** `user:<user id>`, or `*` when answers are shared by every user (cacheScope). */
  scope: string;
  provider: string;
  model: string;
  /** The operation path and its query (Gemini's `?alt=sse` changes the answer's format). */
  operation: string;
  search: string;
  /** Request headers that change the answer (Anthropic's API version and betas pass through). */
  incoming: Headers;
}

const VARIANT_HEADERS = ['anthropic-version', 'anthropic-beta'];

const encoder = new TextEncoder();

/** base64url of SHA-256 over the subject and the exact body bytes. */
export async function cacheKey(subject: CacheSubject, body: ArrayBuffer): Promise<string> {
  const variant = VARIANT_HEADERS.map((name) => subject.incoming.get(name) ?? '');
  const head = encoder.encode(`${JSON.stringify([subject.scope, subject.provider, subject.model, subject.operation, subject.search, ...variant])}\n`);
  const bytes = new Uint8Array(head.length + body.byteLength);
  bytes.set(head);
  bytes.set(new Uint8Array(body), head.length);
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return bytesToBase64Url(hash);
}
