import * as z from 'zod';
import { bytesToBase64 } from '../../base64';
import { ThinkingBlock } from '../pivot/chat';

// Anthropic's signed thinking must come back, unchanged, on the next turn of a tool loop. A Gemini
// client has no field for it but keeps a part's `thoughtSignature` (Gemini 3 refuses a function call
// that lost its own), so the blocks ride there, as base64 like every signature. A real Gemini
// signature is not this JSON, and a block that fails to decode is not one.

const Carried = z.object({ switchyardThinking: z.array(ThinkingBlock) });

/** Signed thinking blocks as one `thoughtSignature`. */
export function thinkingSignature(blocks: ThinkingBlock[]): string {
  return bytesToBase64(new TextEncoder().encode(JSON.stringify({ switchyardThinking: blocks })));
}

/** The signed thinking blocks a `thoughtSignature` carries, or none when it is Gemini's own. */
export function thinkingOfSignature(signature: string): ThinkingBlock[] {
  try {
    const bytes = Uint8Array.from(atob(signature), (ch) => ch.charCodeAt(0));
    const carried = Carried.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
    return carried.success ? carried.data.switchyardThinking : [];
  } catch {
    return [];
  }
}
