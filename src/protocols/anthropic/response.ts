import { GatewayError } from '../../errors';
import { type ChatCompletion, jsonObjectOf, reasoningOf, type ThinkingBlock, type Usage } from '../pivot/chat';
import { usageOf } from '../pivot/chunks';
import { nowSeconds, randomId } from '../pivot/ids';
import { anthropicToolId } from './request';
import { type AnthropicUsage, type Block, Message } from './schema';
import { citationsOf, searchesOf } from './web-search';

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
  const searches = searchesOf(message.content);
  const citations = citationsOf(message.content);
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
          ...(searches.length ? { web_search_calls: searches } : {}),
          ...(citations.length ? { annotations: citations } : {}),
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

/** A pivot completion as an Anthropic message, for an Anthropic client that asked for `model`. */
export function chatToMessage(completion: ChatCompletion, model = completion.model) {
  const choice = completion.choices[0];
  const text = choice?.message.content ?? '';
  const calls = choice?.message.tool_calls ?? [];
  const thinking = choice ? thinkingFromPivot(choice.message) : [];
  return {
    id: anthropicMessageId(completion.id),
    type: 'message',
    role: 'assistant',
    model,
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

/**
 * A passed-through Anthropic answer naming the model as the client asked for it (`anthropic/claude-…`
 * through the unified endpoint, where the provider answers `claude-…`). Claude Code drops the thinking
 * blocks of an assistant turn whose model is not the one it asks for, and Anthropic refuses a tool
 * loop whose last assistant turn lost them. A stream's model is in its first event only.
 */
export async function withAnswerModel(answer: Response, model: string): Promise<Response> {
  if (!answer.body) return answer;
  const init = { status: answer.status, statusText: answer.statusText, headers: answer.headers };
  if (answer.headers.get('content-type')?.includes('text/event-stream')) {
    return new Response(answer.body.pipeThrough(renameFirstEventModel(model)), init);
  }
  const text = await answer.text();
  return new Response(renamedMessage(text, model), init);
}

function renamedMessage(text: string, model: string): string {
  try {
    const message = JSON.parse(text) as { type?: unknown };
    return message?.type === 'message' ? JSON.stringify({ ...message, model }) : text;
  } catch {
    return text;
  }
}

/** The largest first event renamed: message_start is small; anything else passes as it came. */
const MAX_FIRST_EVENT_CHARS = 64 * 1024;

/** Renames `message.model` in a message stream's first event (message_start), then passes bytes as they come. */
function renameFirstEventModel(model: string): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  let head: string | undefined = '';
  return new TransformStream({
    transform(chunk, controller) {
      if (head === undefined) return controller.enqueue(chunk);
      head += decoder.decode(chunk, { stream: true });
      const end = head.search(/\r?\n\r?\n/);
      if (end < 0 && head.length <= MAX_FIRST_EVENT_CHARS) return;
      controller.enqueue(new TextEncoder().encode(end < 0 ? head : renamedEvent(head.slice(0, end), model) + head.slice(end)));
      head = undefined;
    },
    flush(controller) {
      if (head) controller.enqueue(new TextEncoder().encode(head + decoder.decode()));
    },
  });
}

/** One SSE event's text with `message.model` renamed, when it is a message_start; otherwise as it was. */
function renamedEvent(event: string, model: string): string {
  // Line breaks kept as they came (the split keeps them as odd entries).
  const lines = event.split(/(\r?\n)/);
  const index = lines.findIndex((line) => line.startsWith('data:'));
  if (index < 0) return event;
  try {
    const data = JSON.parse(lines[index]!.slice(5)) as { type?: unknown; message?: Record<string, unknown> };
    if (data.type !== 'message_start' || typeof data.message !== 'object' || data.message === null) return event;
    lines[index] = `data: ${JSON.stringify({ ...data, message: { ...data.message, model } })}`;
    return lines.join('');
  } catch {
    return event;
  }
}
