import { type ChatCompletion, jsonObjectOf, type ThinkingBlock, type UrlCitation, type Usage, type WebSearchCall } from '../pivot/chat';
import { nowSeconds, randomId } from '../pivot/ids';
import { encryptedContentOf } from './reasoning';
import type { Item, ResponsesRequest, ResponseUsage } from './schema';
import { CUSTOM_INPUT, RequestTools } from './tools';

// The pivot's answer as a Response object, and the parts of a Response both the JSON answer and
// the stream build: the skeleton echoing the request, output items, usage, the final status.

/** What a translated Response says about itself besides its output. */
export interface ResponseMeta {
  id: string;
  createdAt: number;
  model: string;
  /** The request as the client sent it (echoed fields). */
  request: ResponsesRequest;
  /** Whether the answer is stored (the request's `store`, default true). */
  store: boolean;
}

export const newResponseId = () => randomId('resp_');

export function responseMeta(request: ResponsesRequest, model: string): ResponseMeta {
  return { id: newResponseId(), createdAt: nowSeconds(), model, request, store: request.store !== false };
}

/** The Response object around an output: every field the API always sends, echoing the request. */
export function responseSkeleton(meta: ResponseMeta, status: string, output: Item[] = []) {
  const req = meta.request;
  return {
    id: meta.id,
    object: 'response' as const,
    created_at: meta.createdAt,
    status,
    background: false,
    error: null as { code: string; message: string } | null,
    incomplete_details: null as { reason: string } | null,
    instructions: req.instructions ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    metadata: req.metadata ?? {},
    model: meta.model,
    output,
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    previous_response_id: req.previous_response_id ?? null,
    reasoning: { effort: req.reasoning?.effort ?? null, summary: req.reasoning?.summary ?? null },
    store: meta.store,
    temperature: req.temperature ?? 1,
    text: { format: req.text?.format ?? { type: 'text' } },
    tool_choice: req.tool_choice ?? 'auto',
    tools: req.tools ?? [],
    top_p: req.top_p ?? 1,
    truncation: 'disabled',
    usage: null as ResponseUsage | null,
    user: req.user ?? null,
  };
}

export type ResponseBody = ReturnType<typeof responseSkeleton>;

/** Pivot usage in Responses terms; reasoning tokens are part of the output tokens in both. */
export function responseUsage(usage: Usage | null | undefined): ResponseUsage {
  const details = (usage as { completion_tokens_details?: { reasoning_tokens?: number } } | null | undefined)?.completion_tokens_details;
  const input = usage?.prompt_tokens ?? 0;
  const output = usage?.completion_tokens ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: usage?.prompt_tokens_details?.cached_tokens ?? 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: details?.reasoning_tokens ?? 0 },
    total_tokens: input + output,
  };
}

/** The Response's status for a pivot finish reason: a cut answer is `incomplete`, with the reason. */
export function finalStatus(finishReason: string | null | undefined): { status: string; incomplete_details: { reason: string } | null } {
  if (finishReason === 'length') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (finishReason === 'content_filter') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

/** A reasoning item: its summary and, for Anthropic's signed thinking, the blocks to send back. */
export const reasoningItem = (id: string, text: string, signed: ThinkingBlock[] = []) => ({
  id,
  type: 'reasoning',
  summary: text ? [{ type: 'summary_text', text }] : [],
  ...(signed.length ? { encrypted_content: encryptedContentOf(signed) } : {}),
});

/** A pivot citation as a Responses annotation. */
export const urlAnnotation = ({ url_citation: cited }: UrlCitation) => ({
  type: 'url_citation',
  start_index: cited.start_index,
  end_index: cited.end_index,
  url: cited.url,
  title: cited.title ?? cited.url,
});

export const outputText = (text: string, citations: UrlCitation[] = []) => ({
  type: 'output_text',
  text,
  annotations: citations.map(urlAnnotation),
  logprobs: [],
});

export const messageItem = (id: string, status: string, content: Item[]) => ({ id, type: 'message', status, role: 'assistant', content });

/** A hosted search as the `web_search_call` item OpenAI answers with. */
export const webSearchCallItem = (id: string, status: string, search: WebSearchCall) => ({
  id,
  type: 'web_search_call',
  status,
  action: {
    type: 'search',
    query: search.queries[0] ?? '',
    queries: search.queries,
    ...(search.sources?.length ? { sources: search.sources.map((source) => ({ type: 'url', url: source.url })) } : {}),
  },
});

/** A custom tool's input from its function's arguments (`{"input": "…"}`), or the arguments as they are. */
export function customInputOf(args: string): string {
  const input = jsonObjectOf(args)?.[CUSTOM_INPUT];
  return typeof input === 'string' ? input : args;
}

/**
 * A pivot tool call as the item the client's tool calls for: a `function_call` (with its namespace)
 * or a `custom_tool_call` with its text input.
 */
export function toolCallItem(tools: RequestTools, id: string, status: string, call: { call_id: string; name: string; arguments: string }) {
  const tool = tools.clientTool(call.name);
  const namespace = tool.namespace === undefined ? {} : { namespace: tool.namespace };
  if (tool.kind === 'custom')
    return { id, type: 'custom_tool_call', status, call_id: call.call_id, name: tool.name, ...namespace, input: customInputOf(call.arguments) };
  return { id, type: 'function_call', status, call_id: call.call_id, name: tool.name, ...namespace, arguments: call.arguments };
}

/** The id prefix of a tool call's item: `fc_` for functions, `ctc_` for custom tools. */
export const toolCallItemPrefix = (tools: RequestTools, pivotName: string) => (tools.clientTool(pivotName).kind === 'custom' ? 'ctc_' : 'fc_');

/** The reasoning a pivot message or delta carries (`reasoning_content`, or `reasoning` as some providers name it). */
export function reasoningOf(message: Record<string, unknown>): string {
  const value = message.reasoning_content ?? message.reasoning;
  return typeof value === 'string' ? value : '';
}

/** A pivot completion as a Response object. */
export function chatToResponse(completion: ChatCompletion, meta: ResponseMeta): ResponseBody {
  const choice = completion.choices[0];
  const tools = new RequestTools(meta.request.tools);
  const output: Item[] = [];
  if (choice) {
    const { message } = choice;
    const reasoning = reasoningOf(message);
    const signed = message.thinking_blocks ?? [];
    if (reasoning || signed.length) output.push(reasoningItem(randomId('rs_'), reasoning, signed));
    for (const search of message.web_search_calls ?? []) output.push(webSearchCallItem(randomId('ws_'), 'completed', search));
    const text = message.content ?? '';
    if (text || !message.tool_calls?.length) output.push(messageItem(randomId('msg_'), 'completed', [outputText(text, message.annotations ?? [])]));
    for (const call of message.tool_calls ?? []) {
      const item = { call_id: call.id, name: call.function.name, arguments: call.function.arguments };
      output.push(toolCallItem(tools, randomId(toolCallItemPrefix(tools, call.function.name)), 'completed', item));
    }
  }
  const final = finalStatus(choice?.finish_reason);
  return {
    ...responseSkeleton({ ...meta, model: completion.model || meta.model }, final.status, output),
    incomplete_details: final.incomplete_details,
    usage: responseUsage(completion.usage),
  };
}
