import * as z from 'zod';

// Anthropic Messages (anthropic-version 2023-06-01): what translation reads of requests, responses
// and stream events. Loose, like the pivot.

export const Block = z.looseObject({
  type: z.string(),
  text: z.string().optional(),
  source: z.looseObject({ type: z.string(), media_type: z.string().optional(), data: z.string().optional(), url: z.string().optional() }).optional(),
  id: z.string().optional(),
  name: z.string().optional(),
  input: z.unknown().optional(),
  tool_use_id: z.string().optional(),
  content: z.unknown().optional(),
  is_error: z.boolean().optional(),
  thinking: z.string().optional(),
  signature: z.string().optional(),
  data: z.string().optional(),
  /** A text block's sources (web search results it cites). */
  citations: z.unknown().optional(),
});

/**
 * `system` inside `messages` is the mid-conversation system message of the beta
 * `mid-conversation-system-2026-04-07` (Claude Code sends it).
 */
export const MessageParam = z.looseObject({
  role: z.enum(['user', 'assistant', 'system'], { error: 'messages: each message has role "user", "assistant" or "system"' }),
  content: z.union([z.string(), z.array(Block)]),
});

export const Tool = z.looseObject({
  type: z.string().optional(),
  name: z.string(),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()).optional(),
  /** The web search server tool's approximate location. */
  user_location: z.unknown().optional(),
});

export const ToolChoice = z.looseObject({
  type: z.enum(['auto', 'any', 'tool', 'none']),
  name: z.string().optional(),
  disable_parallel_tool_use: z.boolean().optional(),
});

export const MessagesRequest = z.looseObject({
  model: z.string({ error: 'model: Field required' }).min(1, 'model: must not be empty'),
  max_tokens: z.number({ error: 'max_tokens: Field required' }).int().positive(),
  messages: z.array(MessageParam, { error: 'messages: Field required' }),
  system: z.union([z.string(), z.array(Block)]).optional(),
  tools: z.array(Tool).optional(),
  tool_choice: ToolChoice.optional(),
  stop_sequences: z.array(z.string()).optional(),
  temperature: z.number().optional(),
  top_p: z.number().optional(),
  top_k: z.number().optional(),
  stream: z.boolean().optional(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
  thinking: z.looseObject({ type: z.string(), budget_tokens: z.number().optional() }).optional(),
});

/** `messages/count_tokens` takes a Messages request without `max_tokens`. */
export const CountTokensRequest = MessagesRequest.extend({ max_tokens: z.number().int().positive().optional() });

export const CountTokensResponse = z.looseObject({ input_tokens: z.number() });

export const AnthropicUsage = z.looseObject({
  input_tokens: z.number().nullish(),
  output_tokens: z.number().nullish(),
  cache_creation_input_tokens: z.number().nullish(),
  cache_read_input_tokens: z.number().nullish(),
});

export const Message = z.looseObject({
  id: z.string(),
  type: z.literal('message'),
  role: z.literal('assistant'),
  model: z.string(),
  content: z.array(Block),
  stop_reason: z.string().nullable(),
  stop_sequence: z.string().nullish(),
  usage: AnthropicUsage,
});

/** Stream events, by `type` (the same as the SSE `event:` name). */
export const StreamEvent = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('message_start'), message: Message.partial({ content: true, stop_reason: true }) }),
  z.looseObject({ type: z.literal('content_block_start'), index: z.number(), content_block: Block }),
  z.looseObject({
    type: z.literal('content_block_delta'),
    index: z.number(),
    delta: z.looseObject({
      type: z.string(),
      text: z.string().optional(),
      partial_json: z.string().optional(),
      thinking: z.string().optional(),
      signature: z.string().optional(),
      /** A `citations_delta`'s source. */
      citation: z.unknown().optional(),
    }),
  }),
  z.looseObject({ type: z.literal('content_block_stop'), index: z.number() }),
  z.looseObject({
    type: z.literal('message_delta'),
    delta: z.looseObject({ stop_reason: z.string().nullish(), stop_sequence: z.string().nullish() }),
    usage: AnthropicUsage.optional(),
  }),
  z.looseObject({ type: z.literal('message_stop') }),
  z.looseObject({ type: z.literal('ping') }),
  z.looseObject({ type: z.literal('error'), error: z.looseObject({ type: z.string(), message: z.string() }) }),
]);

export type Block = z.infer<typeof Block>;
export type MessageParam = z.infer<typeof MessageParam>;
export type MessagesRequest = z.infer<typeof MessagesRequest>;
export type CountTokensRequest = z.infer<typeof CountTokensRequest>;
export type AnthropicUsage = z.infer<typeof AnthropicUsage>;
export type Message = z.infer<typeof Message>;
export type StreamEvent = z.infer<typeof StreamEvent>;
