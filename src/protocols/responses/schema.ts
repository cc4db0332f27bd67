import * as z from 'zod';
import { ModelField } from '../pivot/model';

// The OpenAI Responses API (POST /v1/responses): what the gateway reads of requests, of input items
// when it translates them, and of the Response objects a native provider answers with. Loose, like
// the pivot: fields the gateway does not read survive a passthrough untouched.

/** A part of a message's content: input_text, input_image, input_file, output_text, refusal. */
export const ContentPart = z.looseObject({
  type: z.string(),
  text: z.string().optional(),
  image_url: z.string().nullish(),
  file_id: z.string().nullish(),
  detail: z.string().optional(),
  refusal: z.string().optional(),
});

export const MessageItem = z.looseObject({
  type: z.literal('message').optional(),
  id: z.string().optional(),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([z.string(), z.array(ContentPart)]),
});

export const FunctionCallItem = z.looseObject({
  type: z.literal('function_call'),
  id: z.string().optional(),
  call_id: z.string(),
  name: z.string(),
  /** The namespace tool the function belongs to, if any. */
  namespace: z.string().optional(),
  arguments: z.string(),
});

/** A call of a `custom` (freeform) tool: its input is plain text. */
export const CustomToolCallItem = z.looseObject({
  type: z.literal('custom_tool_call'),
  id: z.string().optional(),
  call_id: z.string(),
  name: z.string(),
  namespace: z.string().optional(),
  input: z.string(),
});

export const CustomToolCallOutputItem = z.looseObject({
  type: z.literal('custom_tool_call_output'),
  call_id: z.string(),
  output: z.union([z.string(), z.array(ContentPart)]),
});

/** A hosted web search the answer ran: translated conversations leave it out (its findings are in the text). */
export const WebSearchCallItem = z.looseObject({ type: z.literal('web_search_call') });

export const FunctionCallOutputItem = z.looseObject({
  type: z.literal('function_call_output'),
  call_id: z.string(),
  output: z.union([z.string(), z.array(ContentPart)]),
});

export const ReasoningItem = z.looseObject({
  type: z.literal('reasoning'),
  id: z.string().optional(),
  summary: z.array(z.looseObject({ type: z.string(), text: z.string() })).optional(),
  encrypted_content: z.string().nullish(),
});

/** The input items translation knows; anything else is refused by name (request.ts). */
export const InputItem = z.union([
  MessageItem,
  FunctionCallItem,
  FunctionCallOutputItem,
  CustomToolCallItem,
  CustomToolCallOutputItem,
  ReasoningItem,
  WebSearchCallItem,
]);

const ToolFields = {
  type: z.string(),
  name: z.string().optional(),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
  /** A custom tool's input format: `text`, or a `grammar` (`syntax` lark or regex, `definition`). */
  format: z.looseObject({ type: z.string(), syntax: z.string().optional(), definition: z.string().optional() }).nullish(),
};

/** A tool a namespace groups (a function or a custom tool). */
export const NamespacedTool = z.looseObject(ToolFields);

/**
 * A tool of the request: `function`, `custom`, `namespace` (functions and custom tools under one name,
 * which their calls carry as `namespace`) or a hosted one (`web_search`… with its options).
 */
export const Tool = z.looseObject({
  ...ToolFields,
  tools: z.array(NamespacedTool).optional(),
  search_context_size: z.string().nullish(),
  user_location: z
    .looseObject({ city: z.string().nullish(), country: z.string().nullish(), region: z.string().nullish(), timezone: z.string().nullish() })
    .nullish(),
});

export const ToolChoice = z.union([z.enum(['none', 'auto', 'required']), z.looseObject({ type: z.string(), name: z.string().optional() })]);

export const TextFormat = z.looseObject({
  type: z.enum(['text', 'json_object', 'json_schema'], { error: 'text.format.type is "text", "json_object" or "json_schema"' }),
  name: z.string().optional(),
  schema: z.record(z.string(), z.unknown()).optional(),
  description: z.string().optional(),
  strict: z.boolean().nullish(),
});

const nullishNumber = z.number().nullish();

export const ResponsesRequest = z.looseObject({
  model: ModelField,
  input: z.union([z.string(), z.array(z.record(z.string(), z.unknown()))], {
    error: 'field "input" is a string or an array of input items',
  }),
  instructions: z.string().nullish(),
  tools: z.array(Tool).nullish(),
  tool_choice: ToolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  max_output_tokens: nullishNumber,
  temperature: nullishNumber,
  top_p: nullishNumber,
  text: z.looseObject({ format: TextFormat.nullish() }).nullish(),
  reasoning: z.looseObject({ effort: z.string().nullish(), summary: z.string().nullish() }).nullish(),
  stream: z.boolean().nullish(),
  store: z.boolean().nullish(),
  previous_response_id: z.string().min(1, 'field "previous_response_id" must not be empty').nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  user: z.string().nullish(),
});

export const ResponseUsage = z.looseObject({
  input_tokens: z.number(),
  output_tokens: z.number(),
  total_tokens: z.number().optional(),
  input_tokens_details: z.looseObject({ cached_tokens: z.number().optional() }).nullish(),
  output_tokens_details: z.looseObject({ reasoning_tokens: z.number().optional() }).nullish(),
});

/** A Response object, as a native provider answers it and as the gateway stores it. */
export const ResponseObject = z.looseObject({
  id: z.string(),
  object: z.literal('response'),
  created_at: z.number(),
  model: z.string(),
  status: z.string().optional(),
  output: z.array(z.record(z.string(), z.unknown())),
  usage: ResponseUsage.nullish(),
});

export type ContentPart = z.infer<typeof ContentPart>;
export type InputItem = z.infer<typeof InputItem>;
export type Tool = z.infer<typeof Tool>;
export type NamespacedTool = z.infer<typeof NamespacedTool>;
export type ResponsesRequest = z.infer<typeof ResponsesRequest>;
export type ResponseUsage = z.infer<typeof ResponseUsage>;
export type ResponseObject = z.infer<typeof ResponseObject>;
/** An item of a conversation: an input item as sent, or an output item as answered. */
export type Item = Record<string, unknown>;
