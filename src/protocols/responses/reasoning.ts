import * as z from 'zod';
import { jsonObjectOf, ThinkingBlock } from '../pivot/chat';

// Anthropic's signed thinking blocks ride in a translated reasoning item's `encrypted_content`, the
// field Responses clients send back unchanged (Codex asks for it with `include`), so a tool loop on
// an Anthropic model keeps its thinking. Other reasoning items (OpenAI's own encrypted content, bare
// summaries) mean nothing to a translated provider and are left out of its request.

const PREFIX = 'switchyard.thinking.v1:';

const SignedBlocks = z.object({ blocks: z.array(ThinkingBlock) });

/** Signed thinking blocks as a reasoning item's `encrypted_content`. */
export const encryptedContentOf = (blocks: ThinkingBlock[]) => `${PREFIX}${JSON.stringify({ blocks })}`;

/** The signed thinking blocks an `encrypted_content` carries: none when it is not the gateway's. */
export function thinkingBlocksOf(encrypted: string | null | undefined): ThinkingBlock[] {
  if (!encrypted?.startsWith(PREFIX)) return [];
  const parsed = SignedBlocks.safeParse(jsonObjectOf(encrypted.slice(PREFIX.length)));
  return parsed.success ? parsed.data.blocks : [];
}

/** Whether a reasoning item was written by this gateway (no provider of the Responses API knows it). */
export const isGatewayReasoning = (item: Record<string, unknown>) =>
  item.type === 'reasoning' && typeof item.encrypted_content === 'string' && item.encrypted_content.startsWith(PREFIX);
