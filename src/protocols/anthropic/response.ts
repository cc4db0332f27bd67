import { GatewayError } from '../../errors';
import { type ChatCompletion, jsonObjectOf, reasoningOf, type ThinkingBlock, type Usage } from '../pivot/chat';
import { usageOf } from '../pivot/chunks';
import { nowSeconds, randomId } from '../pivot/ids';
import { anthropicToolId } from './request';
import { type AnthropicUsage, type Block, Message } from './schema';

// Answers both ways: an Anthropic message as the pivot, and the pivot as an Anthropic message.

const FINISH_BY_STOP_REASON: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

const STOP_REASON_BY_FINISH: Record<string, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

export const finishReasonOf = (stopReason: string | null | undefined) => FINISH_BY_STOP_REASON[stopReason ?? ''] ?? 'stop';
export const stopReasonOf = (finishReason: string | null | undefined) => STOP_REASON_BY_FINISH[finishReason ?? ''] ?? 'end_turn';

/** Anthropic counts cached prompt tokens apart; OpenAI counts them in the prompt. */
export function pivotUsage(usage: AnthropicUsage): Usage {
  const cached = usage.cache_read_input_tokens ?? 0;
  const prompt = (usage.input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0) + cached;
  return usageOf(prompt, usage.output_tokens ?? 0, cached);
}

export function anthropicUsage(usage: Usage | null | undefined) {
  const cached = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    input_tokens: (usage?.prompt_tokens ?? 0) - cached,
    output_tokens: usage?.completion_tokens ?? 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
  };
}

/** Thinking blocks as the pivot's signed blocks (only their own fields). */
export function signedBlocks(blocks: Block[]): ThinkingBlock[] {
  return blocks.flatMap((block): ThinkingBlock[] => {
    if (block.type === 'thinking') return [{ type: 'thinking', thinking: block.thinking ?? '', signature: block.signature ?? '' }];
    if (block.type === 'redacted_thinking') return [{ type: 'redacted_thinking', data: block.data ?? '' }];
    return [];
  });
}

/** An Anthropic message as a pivot completion: thinking as `reasoning_content` and, signed, as `thinking_blocks`. */
export function messageToChat(json: unknown): ChatCompletion {
  const parsed = Message.safeParse(json);
  if (!parsed.success) throw new GatewayError(502, 'the provider answered with an Anthropic message the gateway cannot read', 'upstream_unreadable');
  const message = parsed.data;
  const text = message.content
    .filter((block) => block.type === 'text')
    .map((block) => block.text ?? '')
    .join('');
  const calls = message.content
    .filter((block) => block.type === 'tool_use')
    .map((block) => ({
      id: block.id ?? randomId('toolu_'),
      type: 'function',
      function: { name: block.name ?? '', arguments: JSON.stringify(block.input ?? {}) },
    }));
  const thinking = signedBlocks(message.content);
  const reasoning = thinking.map((block) => block.thinking ?? '').join('');
  return {
    id: message.id,
    object: 'chat.completion',
    created: nowSeconds(),
    model: message.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text || (calls.length ? null : ''),
          ...(calls.length ? { tool_calls: calls } : {}),
          ...(reasoning ? { reasoning_content: reasoning } : {}),
          ...(thinking.length ? { thinking_blocks: thinking } : {}),
        },
        logprobs: null,
        finish_reason: finishReasonOf(message.stop_reason),
      },
    ],
    usage: pivotUsage(message.usage),
  };
}

export const anthropicMessageId = (id: string) => (id.startsWith('msg_') ? id : randomId('msg_'));

/**
 * Reasoning of another provider as Anthropic thinking blocks. Only Anthropic can sign them: the
 * signature is left empty, and such a block going back to a translated provider is dropped there.
 */
export function thinkingFromPivot(message: { reasoning_content?: string | null; reasoning?: unknown; thinking_blocks?: ThinkingBlock[] | null }) {
  if (message.thinking_blocks?.length) return message.thinking_blocks;
  const reasoning = reasoningOf(message);
  return reasoning ? [{ type: 'thinking', thinking: reasoning, signature: '' }] : [];
}

/** A pivot completion as an Anthropic message, for an Anthropic client. */
export function chatToMessage(completion: ChatCompletion) {
  const choice = completion.choices[0];
  const text = choice?.message.content ?? '';
  const calls = choice?.message.tool_calls ?? [];
  const thinking = choice ? thinkingFromPivot(choice.message) : [];
  return {
    id: anthropicMessageId(completion.id),
    type: 'message',
    role: 'assistant',
    model: completion.model,
    content: [
      ...thinking,
      ...(text || calls.length === 0 ? [{ type: 'text', text }] : []),
      ...calls.map((call) => ({
        type: 'tool_use',
        id: anthropicToolId(call.id),
        name: call.function.name,
        input: jsonObjectOf(call.function.arguments || '{}') ?? {},
      })),
    ],
    stop_reason: stopReasonOf(choice?.finish_reason),
    stop_sequence: null,
    usage: anthropicUsage(completion.usage),
  };
}
