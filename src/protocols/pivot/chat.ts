import * as z from 'zod';
import { ModelField } from './model';
import { GatewayError } from '../../errors';

// The pivot every translation goes through: OpenAI Chat Completions. Loose schemas: fields a
// translator does not read survive, and only what translation reads is checked.

const nullishNumber = z.number().nullish();

export const ContentPart = z.looseObject({
  type: z.string(),
  text: z.string().optional(),
  image_url: z.looseObject({ url: z.string(), detail: z.string().optional() }).optional(),
  cache_control: z.unknown().optional(),
});

/**
 * A reasoning block as Anthropic signs it (`thinking` with its signature, or `redacted_thinking`):
 * what must go back to Anthropic, unchanged, on the next turn of a tool loop. OpenAI-protocol
 * clients see it as the assistant message's `thinking_blocks` and send it back there.
 */
export const ThinkingBlock = z.looseObject({
  type: z.enum(['thinking', 'redacted_thinking']),
  thinking: z.string().optional(),
  signature: z.string().optional(),
  data: z.string().optional(),
});

/** A source the answer text cites (OpenAI's `url_citation`; indices in UTF-16 code units of the message's text). */
export const UrlCitation = z.looseObject({
  type: z.literal('url_citation'),
  url_citation: z.looseObject({ url: z.string(), title: z.string().optional(), start_index: z.number(), end_index: z.number() }),
});

/**
 * A web search the provider ran itself (Anthropic's server tool, Gemini's Google Search grounding):
 * the gateway's own field, which Responses clients see as a `web_search_call` item.
 */
export const WebSearchCall = z.looseObject({
  id: z.string(),
  queries: z.array(z.string()),
  sources: z.array(z.looseObject({ url: z.string(), title: z.string().optional() })).optional(),
});

export const ToolCall = z.looseObject({
  id: z.string(),
  type: z.string().optional(),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

export const ChatMessage = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(ContentPart)]).nullish(),
  name: z.string().optional(),
  tool_calls: z.array(ToolCall).nullish(),
  tool_call_id: z.string().optional(),
  /** Anthropic's prompt-caching breakpoint on a whole message (also taken on content parts and tools). */
  cache_control: z.unknown().optional(),
  /** Reasoning text: `reasoning_content` (DeepSeek, vLLM, this gateway) or `reasoning` (Groq, OpenRouter). */
  reasoning_content: z.string().nullish(),
  reasoning: z.unknown().optional(),
  thinking_blocks: z.array(ThinkingBlock).nullish(),
});

export const FunctionTool = z.looseObject({
  type: z.string(),
  cache_control: z.unknown().optional(),
  function: z.looseObject({
    name: z.string(),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});

export const ToolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string() }) }),
]);

export const ResponseFormat = z.looseObject({
  type: z.string(),
  json_schema: z.looseObject({ name: z.string().optional(), schema: z.record(z.string(), z.unknown()).optional() }).optional(),
});

export const ChatRequest = z.looseObject({
  model: ModelField,
  messages: z.array(ChatMessage, { error: 'field "messages" is required (an array of messages)' }).min(1, 'field "messages" must not be empty'),
  tools: z.array(FunctionTool).nullish(),
  tool_choice: ToolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  temperature: nullishNumber,
  top_p: nullishNumber,
  max_tokens: nullishNumber,
  max_completion_tokens: nullishNumber,
  n: nullishNumber,
  seed: nullishNumber,
  presence_penalty: nullishNumber,
  frequency_penalty: nullishNumber,
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  response_format: ResponseFormat.nullish(),
  reasoning_effort: z.string().nullish(),
  /** The provider's own web search (OpenAI's field); dropped or refused where the target has none (unified/hosted-tools.ts). */
  web_search_options: z.record(z.string(), z.unknown()).nullish(),
  user: z.string().optional(),
});

export const Usage = z.looseObject({
  prompt_tokens: z.number(),
  completion_tokens: z.number(),
  total_tokens: z.number(),
  prompt_tokens_details: z.looseObject({ cached_tokens: z.number().optional() }).nullish(),
});

export const ChatCompletion = z.looseObject({
  id: z.string(),
  object: z.string(),
  created: z.number(),
  model: z.string(),
  choices: z.array(
    z.looseObject({
      index: z.number(),
      message: z.looseObject({
        role: z.string(),
        content: z.string().nullish(),
        tool_calls: z.array(ToolCall).nullish(),
        reasoning_content: z.string().nullish(),
        reasoning: z.unknown().optional(),
        thinking_blocks: z.array(ThinkingBlock).nullish(),
        annotations: z.array(UrlCitation).nullish(),
        web_search_calls: z.array(WebSearchCall).nullish(),
      }),
      finish_reason: z.string().nullable(),
    }),
  ),
  usage: Usage.nullish(),
});

export const ToolCallDelta = z.looseObject({
  index: z.number(),
  id: z.string().optional(),
  type: z.string().optional(),
  function: z.looseObject({ name: z.string().optional(), arguments: z.string().optional() }).optional(),
});

export const ChatChunk = z.looseObject({
  id: z.string(),
  object: z.string(),
  created: z.number(),
  model: z.string(),
  choices: z.array(
    z.looseObject({
      index: z.number(),
      delta: z.looseObject({
        role: z.string().optional(),
        content: z.string().nullish(),
        tool_calls: z.array(ToolCallDelta).nullish(),
        reasoning_content: z.string().nullish(),
        reasoning: z.unknown().optional(),
        /** Every signed block of the answer so far (a snapshot: the SDKs assign, not append). */
        thinking_blocks: z.array(ThinkingBlock).nullish(),
        /** Citations of the text so far, each sent once. */
        annotations: z.array(UrlCitation).nullish(),
        /** Searches the provider finished, each sent once. */
        web_search_calls: z.array(WebSearchCall).nullish(),
      }),
      finish_reason: z.string().nullish(),
    }),
  ),
  usage: Usage.nullish(),
});

export type ThinkingBlock = z.infer<typeof ThinkingBlock>;
export type UrlCitation = z.infer<typeof UrlCitation>;
export type WebSearchCall = z.infer<typeof WebSearchCall>;
export type ContentPart = z.infer<typeof ContentPart>;
export type ToolCall = z.infer<typeof ToolCall>;
export type ChatMessage = z.infer<typeof ChatMessage>;
export type FunctionTool = z.infer<typeof FunctionTool>;
export type ToolChoice = z.infer<typeof ToolChoice>;
export type ChatRequest = z.infer<typeof ChatRequest>;
export type Usage = z.infer<typeof Usage>;
export type ChatCompletion = z.infer<typeof ChatCompletion>;
export type ToolCallDelta = z.infer<typeof ToolCallDelta>;
export type ChatChunk = z.infer<typeof ChatChunk>;

/** An upstream failure met while translating: its HTTP status and the provider's message. */
export interface Failure {
  status: number;
  message: string;
}

/** What a translated stream carries between the upstream decoder and the client encoder. */
export type PivotEvent = { chunk: ChatChunk } | { failure: Failure };

/** The text of a message's content: a string, or its text parts joined. */
export function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  return (content ?? [])
    .filter((part) => part.type === 'text')
    .map((part) => part.text ?? '')
    .join('');
}

/** The reasoning text of a message or delta, whichever field carries it. */
export function reasoningOf(message: { reasoning_content?: string | null; reasoning?: unknown }): string {
  if (message.reasoning_content) return message.reasoning_content;
  return typeof message.reasoning === 'string' ? message.reasoning : '';
}

/** Thinking budgets (tokens) for OpenAI's `reasoning_effort`, where a provider takes a budget. */
export const THINKING_BUDGET: Record<string, number> = { minimal: 1024, low: 2048, medium: 8192, high: 24576 };

/** `reasoning_effort` for a thinking budget: the nearest effort at or above it. */
export function effortOfBudget(budget: number): string {
  return Object.entries(THINKING_BUDGET).find(([, tokens]) => budget <= tokens)?.[0] ?? 'high';
}

/** The output-token limit a request asks for, whichever field it uses. */
export function maxTokensOf(req: ChatRequest): number | undefined {
  return req.max_completion_tokens ?? req.max_tokens ?? undefined;
}

/** The stop sequences of a request, as a list. */
export function stopSequencesOf(req: ChatRequest): string[] | undefined {
  if (req.stop === null || req.stop === undefined) return undefined;
  return typeof req.stop === 'string' ? [req.stop] : req.stop;
}

/** The object without its undefined fields, so that a translated request names only what was asked. */
export function omitUndefined<T extends Record<string, unknown>>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T;
}

/** The JSON object a string holds, or undefined when it holds anything else. */
export function jsonObjectOf(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return undefined;
}

/** A pivot tool call's `arguments` (a JSON string) as the object Anthropic and Gemini want. */
export function toolArgumentsOf(args: string, name: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  const parsed = jsonObjectOf(args);
  if (parsed) return parsed;
  throw new GatewayError(400, `the arguments of tool call "${name}" are not a JSON object`, 'invalid_tool_arguments');
}
