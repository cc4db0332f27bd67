import { base64FromUrl, base64ToUrl } from '../../base64';

// Gemini signs its reasoning on function calls (`thoughtSignature`) and refuses, on a thinking model,
// a later turn whose function call comes back without its signature. OpenAI and Anthropic clients
// have no field for it but echo tool-call ids faithfully: the signature rides in the id, in
// base64url so the id stays within Anthropic's `[a-zA-Z0-9_-]`.

const MARK = '__thought_';

/** A tool-call id that carries a Gemini thought signature (the id as it is when there is none). */
export function withThoughtSignature(id: string, signature: string | undefined): string {
  return signature ? `${id}${MARK}${base64ToUrl(signature)}` : id;
}

/** The thought signature a tool-call id carries, if any. */
export function thoughtSignatureOf(id: string): string | undefined {
  const at = id.indexOf(MARK);
  return at < 0 ? undefined : base64FromUrl(id.slice(at + MARK.length));
}
