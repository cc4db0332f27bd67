// Gemini signs its reasoning on function calls (`thoughtSignature`) and refuses, on a thinking model,
// a later turn whose function call comes back without its signature. OpenAI and Anthropic clients
// have no field for it but echo tool-call ids faithfully: the signature rides in the id, in
// base64url so the id stays within Anthropic's `[a-zA-Z0-9_-]`.

const MARK = '__thought_';

const toBase64Url = (base64: string) => base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const fromBase64Url = (text: string) => text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);

/** A tool-call id that carries a Gemini thought signature (the id as it is when there is none). */
export function withThoughtSignature(id: string, signature: string | undefined): string {
  return signature ? `${id}${MARK}${toBase64Url(signature)}` : id;
}

/** The thought signature a tool-call id carries, if any. */
export function thoughtSignatureOf(id: string): string | undefined {
  const at = id.indexOf(MARK);
  return at < 0 ? undefined : fromBase64Url(id.slice(at + MARK.length));
}
