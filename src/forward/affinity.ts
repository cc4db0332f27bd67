// Which key a request's prompt prefix sticks to. Providers cache long prompt prefixes per account or
// key (OpenAI and Groq from 1 024 tokens on, Anthropic and Gemini from 1 024-4 096 tokens), so
// requests that share a long prefix (a system prompt, a conversation's first turns) should reach the
// same key rather than be spread round-robin over keys whose caches are all cold.

/** About 1 024 tokens at ~4 characters per token: below this the providers cache nothing. */
export const PREFIX_CHARS = 4 * 1024;

/** The prompt in the order providers cache it: tools, system prompt, then the messages. */
function promptParts(json: Record<string, unknown>): unknown[] {
  const turns = json.messages ?? json.contents;
  return [json.tools, json.system ?? json.systemInstruction, ...(Array.isArray(turns) ? turns : []), json.prompt].filter((part) => part !== undefined);
}

/**
 * A number picked by the shortest leading run of prompt parts that reaches PREFIX_CHARS, or undefined
 * when the whole prompt is shorter (no prefix worth keeping warm). A conversation keeps its number as
 * it grows: its first turns do not change.
 */
export function promptAffinity(json: Record<string, unknown> | undefined): number | undefined {
  if (!json) return undefined;
  let prefix = '';
  for (const part of promptParts(json)) {
    prefix += typeof part === 'string' ? part : JSON.stringify(part);
    if (prefix.length >= PREFIX_CHARS) return prefixHash(prefix);
  }
  return undefined;
}

/**
 * FNV-1a, 32 bits, with murmur3's final mix (FNV's low bits, which pick the key, depend only on the
 * characters' low bits): cheap and stable, so the same prefix picks the same key in every isolate.
 */
export function prefixHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
