import type { Answer, StreamEvent } from './answer';
import { answerId, jsonChunks, planReply, searchRequested, searchSource, textChunks, textOf, tokenCount, TOOL_NAME } from './conversation';

// OpenAI's Responses API (POST /v1/responses) as OpenAI serves it: Response objects, the streamed
// events with `event:` lines and sequence numbers, and OpenAI's refusals: a function_call_output
// whose call is not in the input, a reasoning item the server cannot know (store: false without
// encrypted_content), a previous_response_id it never stored.

type Json = Record<string, unknown>;

const invalid = (status: number, message: string, param: string | null, code: string | null = null): Answer => ({
  kind: 'json',
  status,
  headers: { 'x-request-id': answerId('req_') },
  body: { error: { message, type: 'invalid_request_error', param, code } },
});

/** Reasoning items this stand-in has answered with (what OpenAI keeps when `store` is true). */
const issuedReasoning = new Set<string>();
const ENCRYPTED_PREFIX = 'gAAAAAstandin';

interface Item {
  type?: string;
  role?: string;
  id?: string;
  content?: unknown;
  call_id?: string;
  output?: unknown;
  encrypted_content?: string | null;
}

function refusal(body: Json, items: Item[]): Answer | undefined {
  if (typeof body.model !== 'string') return invalid(400, "Missing required parameter: 'model'.", 'model', 'missing_required_parameter');
  if (typeof body.previous_response_id === 'string') {
    return invalid(400, `Previous response with id '${body.previous_response_id}' not found.`, 'previous_response_id', 'previous_response_not_found');
  }
  const toolRefused = toolsRefusal(body.tools);
  if (toolRefused) return toolRefused;
  const calls = new Set<string>();
  for (const [index, item] of items.entries()) {
    if ((item.type === 'function_call' || item.type === 'custom_tool_call') && item.call_id) calls.add(item.call_id);
    if (item.type === 'function_call_output' && !calls.has(item.call_id ?? '')) {
      return invalid(400, `No tool call found for function call output with call_id ${item.call_id}.`, 'input');
    }
    if (item.type === 'custom_tool_call_output' && !calls.has(item.call_id ?? '')) {
      return invalid(400, `No tool call found for custom tool call output with call_id ${item.call_id}.`, 'input');
    }
    if (item.type === 'reasoning') {
      const known = item.encrypted_content?.startsWith(ENCRYPTED_PREFIX) || (body.store !== false && issuedReasoning.has(item.id ?? ''));
      if (!known) {
        return invalid(
          404,
          `Item with id '${item.id}' not found.${body.store === false ? ' Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input.' : ''}`,
          `input[${index}]`,
        );
      }
    }
  }
  return undefined;
}

interface Tool {
  type?: string;
  name?: string;
  tools?: Tool[];
}

/** The tools the model may call, by name: functions and custom tools, those of a namespace with its name. */
function callableTools(tools: Tool[]): Map<string, { custom: boolean; namespace?: string }> {
  const callable = new Map<string, { custom: boolean; namespace?: string }>();
  for (const tool of tools) {
    if ((tool.type === 'function' || tool.type === 'custom') && tool.name) callable.set(tool.name, { custom: tool.type === 'custom' });
    if (tool.type === 'namespace') {
      for (const inner of tool.tools ?? []) if (inner.name) callable.set(inner.name, { custom: inner.type === 'custom', namespace: tool.name });
    }
  }
  return callable;
}

/** OpenAI's function and custom tool names: `^[a-zA-Z0-9_-]{1,64}$`, inside a namespace too. */
function toolsRefusal(tools: unknown): Answer | undefined {
  const list = Array.isArray(tools) ? (tools as Tool[]) : [];
  for (const [index, tool] of list.entries()) {
    for (const [path, named] of tool.type === 'namespace'
      ? (tool.tools ?? []).map((t, i) => [`tools[${index}].tools[${i}]`, t] as const)
      : [[`tools[${index}]`, tool] as const]) {
      if ((named.type === 'function' || named.type === 'custom') && !TOOL_NAME.test(named.name ?? '')) {
        return invalid(
          400,
          `Invalid '${path}.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.`,
          `${path}.name`,
        );
      }
    }
  }
  return undefined;
}

export function responses(body: Json): Answer {
  const input = body.input;
  if (typeof input !== 'string' && !Array.isArray(input)) return invalid(400, "Invalid type for 'input': expected a string or an array.", 'input');
  const items: Item[] = typeof input === 'string' ? [{ type: 'message', role: 'user', content: input }] : (input as Item[]);
  const refused = refusal(body, items);
  if (refused) return refused;

  const messages = items.filter((item) => item.type === undefined || item.type === 'message');
  const lastUser = [...messages].reverse().find((m) => m.role === 'user' && textOf(m.content));
  const tools = Array.isArray(body.tools) ? (body.tools as Tool[]) : [];
  const callable = callableTools(tools);
  const choice = body.tool_choice as string | { type?: string; name?: string } | undefined;
  const toolNames = choice === 'none' ? [] : [...callable.keys()];
  const reply = planReply({
    lastUserText: textOf(lastUser?.content),
    endsWithUserText: items.at(-1)?.type === undefined || items.at(-1)?.type === 'message',
    promptText: [typeof body.instructions === 'string' ? body.instructions : '', ...items.map((i) => textOf(i.content) || String(i.output ?? ''))].join('\n'),
    toolNames,
    forcedTool: choice === 'required' ? true : typeof choice === 'object' && choice.name ? choice.name : undefined,
    maxTokens: body.max_output_tokens as number | undefined,
  });

  const reasoningRequested = typeof body.reasoning === 'object' && body.reasoning !== null;
  const wantsEncrypted = Array.isArray(body.include) && body.include.includes('reasoning.encrypted_content');
  const summaryText = 'Thinking about the request.';
  const reasoning = reasoningRequested
    ? {
        id: answerId('rs_'),
        type: 'reasoning',
        summary: (body.reasoning as { summary?: unknown }).summary ? [{ type: 'summary_text', text: summaryText }] : [],
        ...(wantsEncrypted ? { encrypted_content: `${ENCRYPTED_PREFIX}${answerId('')}` } : {}),
      }
    : undefined;
  if (reasoning && body.store !== false) issuedReasoning.add(reasoning.id);
  const reasoningTokens = reasoning ? tokenCount(summaryText) : 0;

  const output: Json[] = [];
  if (reasoning) output.push(reasoning);
  const call = reply.toolCall;
  const messageId = answerId('msg_');
  const tool = call ? callable.get(call.name) : undefined;
  const namespace = tool?.namespace === undefined ? {} : { namespace: tool.namespace };
  const callItem = !call
    ? undefined
    : tool?.custom
      ? {
          id: answerId('ctc_'),
          type: 'custom_tool_call',
          status: 'completed',
          call_id: answerId('call_'),
          name: call.name,
          ...namespace,
          input: `${call.name} ${Object.values(call.arguments).join(' ')}`,
        }
      : {
          id: answerId('fc_'),
          type: 'function_call',
          status: 'completed',
          arguments: call.argumentsJson,
          call_id: answerId('call_'),
          name: call.name,
          ...namespace,
        };
  // The hosted web search: one search for the question, its source cited over the whole answer.
  const searches = !call && tools.some((t) => /^web_search/.test(t.type ?? '')) && searchRequested(reply.lastUserText ?? '');
  const source = searches ? searchSource(reply.lastUserText ?? '') : undefined;
  const annotations = source ? [{ type: 'url_citation', start_index: 0, end_index: reply.text.length, url: source.url, title: source.title }] : [];
  const text = { type: 'output_text', annotations, logprobs: [], text: reply.text };
  if (source) {
    const action = { type: 'search', query: reply.lastUserText, sources: [{ type: 'url', url: source.url }] };
    output.push({ id: answerId('ws_'), type: 'web_search_call', status: 'completed', action });
  }
  if (callItem) output.push(callItem);
  else output.push({ id: messageId, type: 'message', status: 'completed', content: [text], role: 'assistant' });

  const incomplete = reply.finish === 'length';
  const response = {
    id: answerId('resp_'),
    object: 'response',
    created_at: Math.floor(Date.now() / 1000),
    status: incomplete ? 'incomplete' : 'completed',
    background: false,
    error: null,
    incomplete_details: incomplete ? { reason: 'max_output_tokens' } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model: `${body.model}-2025-04-14`,
    output,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: (body.reasoning as { effort?: unknown } | undefined)?.effort ?? null, summary: null },
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: body.text ?? { format: { type: 'text' } },
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: 'disabled',
    usage: {
      input_tokens: reply.promptTokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: reply.completionTokens + reasoningTokens,
      output_tokens_details: { reasoning_tokens: reasoningTokens },
      total_tokens: reply.promptTokens + reply.completionTokens + reasoningTokens,
    },
    user: null,
    metadata: body.metadata ?? {},
  };
  const headers = { 'x-request-id': answerId('req_') };
  if (body.stream !== true) return { kind: 'json', status: 200, body: response, headers };

  const events: Json[] = [];
  const inProgress = { ...response, status: 'in_progress', incomplete_details: null, output: [], usage: null };
  events.push({ type: 'response.created', response: inProgress }, { type: 'response.in_progress', response: inProgress });
  output.forEach((item, index) => {
    const base = { output_index: index };
    if (item.type === 'reasoning') {
      events.push({ type: 'response.output_item.added', ...base, item: { ...item, summary: [] } });
      for (const [s, part] of (item.summary as { text: string }[]).entries()) {
        const ref = { item_id: item.id, ...base, summary_index: s };
        events.push(
          { type: 'response.reasoning_summary_part.added', ...ref, part: { type: 'summary_text', text: '' } },
          ...textChunks(part.text).map((delta) => ({ type: 'response.reasoning_summary_text.delta', ...ref, delta })),
          { type: 'response.reasoning_summary_text.done', ...ref, text: part.text },
          { type: 'response.reasoning_summary_part.done', ...ref, part: { type: 'summary_text', text: part.text } },
        );
      }
    } else if (item.type === 'web_search_call') {
      const ref = { item_id: item.id, ...base };
      events.push(
        { type: 'response.output_item.added', ...base, item: { ...item, status: 'in_progress' } },
        { type: 'response.web_search_call.in_progress', ...ref },
        { type: 'response.web_search_call.searching', ...ref },
        { type: 'response.web_search_call.completed', ...ref },
      );
    } else if (item.type === 'custom_tool_call') {
      events.push({ type: 'response.output_item.added', ...base, item: { ...item, status: 'in_progress', input: '' } });
      const ref = { item_id: item.id, ...base };
      for (const delta of textChunks(String(item.input))) events.push({ type: 'response.custom_tool_call_input.delta', ...ref, delta });
      events.push({ type: 'response.custom_tool_call_input.done', ...ref, input: item.input });
    } else if (item.type === 'function_call') {
      events.push({ type: 'response.output_item.added', ...base, item: { ...item, status: 'in_progress', arguments: '' } });
      const ref = { item_id: item.id, ...base };
      for (const delta of jsonChunks(String(item.arguments))) events.push({ type: 'response.function_call_arguments.delta', ...ref, delta });
      events.push({ type: 'response.function_call_arguments.done', ...ref, name: item.name, arguments: item.arguments });
    } else {
      events.push({ type: 'response.output_item.added', ...base, item: { ...item, status: 'in_progress', content: [] } });
      const ref = { item_id: item.id, ...base, content_index: 0 };
      events.push({ type: 'response.content_part.added', ...ref, part: { ...text, text: '', annotations: [] } });
      for (const delta of textChunks(reply.text)) events.push({ type: 'response.output_text.delta', ...ref, delta, logprobs: [] });
      for (const [annotation_index, annotation] of annotations.entries()) {
        events.push({ type: 'response.output_text.annotation.added', ...ref, annotation_index, annotation });
      }
      events.push({ type: 'response.output_text.done', ...ref, text: reply.text, logprobs: [] }, { type: 'response.content_part.done', ...ref, part: text });
    }
    events.push({ type: 'response.output_item.done', ...base, item });
  });
  events.push({ type: incomplete ? 'response.incomplete' : 'response.completed', response });
  return {
    kind: 'stream',
    format: 'sse',
    headers,
    events: events.map((event, sequence): StreamEvent => ({ event: String(event.type), data: JSON.stringify({ ...event, sequence_number: sequence }) })),
  };
}
