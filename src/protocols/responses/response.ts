import type { ChatCompletion, Usage } from '../pivot/chat';
import { nowSeconds, randomId } from '../pivot/ids';
import type { Item, ResponsesRequest, ResponseUsage } from './schema';

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

export const reasoningItem = (id: string, text: string) => ({ id, type: 'reasoning', summary: text ? [{ type: 'summary_text', text }] : [] });

export const outputText = (text: string) => ({ type: 'output_text', text, annotations: [], logprobs: [] });

export const messageItem = (id: string, status: string, content: Item[]) => ({ id, type: 'message', status, role: 'assistant', content });

export const functionCallItem = (id: string, status: string, call: { call_id: string; name: string; arguments: string }) => ({
  id,
  type: 'function_call',
  status,
  ...call,
});

/** The reasoning a pivot message or delta carries (`reasoning_content`, or `reasoning` as some providers name it). */
export function reasoningOf(message: Record<string, unknown>): string {
  const value = message.reasoning_content ?? message.reasoning;
  return typeof value === 'string' ? value : '';
}

/** A pivot completion as a Response object. */
export function chatToResponse(completion: ChatCompletion, meta: ResponseMeta): ResponseBody {
  const choice = completion.choices[0];
  const output: Item[] = [];
  if (choice) {
    const reasoning = reasoningOf(choice.message);
    if (reasoning) output.push(reasoningItem(randomId('rs_'), reasoning));
    const text = choice.message.content ?? '';
    if (text || !choice.message.tool_calls?.length) output.push(messageItem(randomId('msg_'), 'completed', [outputText(text)]));
    for (const call of choice.message.tool_calls ?? []) {
      output.push(functionCallItem(randomId('fc_'), 'completed', { call_id: call.id, name: call.function.name, arguments: call.function.arguments }));
    }
  }
  const final = finalStatus(choice?.finish_reason);
  return {
    ...responseSkeleton({ ...meta, model: completion.model || meta.model }, final.status, output),
    incomplete_details: final.incomplete_details,
    usage: responseUsage(completion.usage),
  };
}
