const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A random id in a provider's style (`call_…`, `msg_…`, `chatcmpl-…`): the prefix and 24 letters or digits. */
export function randomId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return prefix + Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join('');
}

/** Unix time in seconds, the `created` field of OpenAI objects. */
export const nowSeconds = () => Math.floor(Date.now() / 1000);
