import { GatewayError } from '../../errors';
import type { ChatMessage, ChatRequest, ContentPart as PivotPart, FunctionTool, ToolCall } from '../pivot/chat';
import { omitUndefined } from '../pivot/chat';
import { describeIssues } from '../../vault/schema';
import { type ContentPart, InputItem, type Item, type ResponsesRequest } from './schema';

// A Responses request (and the stored conversation it continues) as the pivot, for providers that
// do not speak the Responses API. Reasoning items are dropped: the pivot has no way to hand a
// provider its earlier reasoning, and every provider accepts a conversation without it.

const unsupported = (what: string) =>
  new GatewayError(400, `${what} cannot be translated from the Responses API for this provider`, 'unsupported_by_translation');

/** The request's `input` as items: a string is one user message. */
export function inputItems(input: ResponsesRequest['input']): Item[] {
  return typeof input === 'string' ? [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: input }] }] : input;
}

function pivotParts(content: string | ContentPart[]): string | PivotPart[] {
  if (typeof content === 'string') return content;
  return content.map((part): PivotPart => {
    switch (part.type) {
      case 'input_text':
      case 'output_text':
        return { type: 'text', text: part.text ?? '' };
      case 'refusal':
        return { type: 'text', text: part.refusal ?? '' };
      case 'input_image':
        if (!part.image_url) throw unsupported('an input_image given by file_id (send image_url: a data: or https URL)');
        return { type: 'image_url', image_url: { url: part.image_url, ...(part.detail && part.detail !== 'original' ? { detail: part.detail } : {}) } };
      default:
        throw unsupported(`a "${part.type}" content part`);
    }
  });
}

const textOnly = (content: string | ContentPart[], what: string): string => {
  const parts = pivotParts(content);
  if (typeof parts === 'string') return parts;
  if (parts.some((part) => part.type !== 'text')) throw unsupported(`an image in ${what}`);
  return parts.map((part) => part.text ?? '').join('');
};

function parseItem(raw: Item, index: number): InputItem {
  const parsed = InputItem.safeParse(raw);
  if (parsed.success) return parsed.data;
  const type = typeof raw.type === 'string' ? raw.type : 'message';
  if (!['message', 'function_call', 'function_call_output', 'reasoning'].includes(type)) throw unsupported(`an input item of type "${type}"`);
  throw new GatewayError(400, `input[${index}] (${type}): ${describeIssues(parsed.error)}`, 'invalid_body');
}

/** Conversation items as pivot messages: function calls join the assistant turn they belong to. */
export function itemsToMessages(items: Item[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  const callIds = new Set<string>();
  // The assistant message that function_call items join, until a non-assistant message comes.
  let assistant: (ChatMessage & { tool_calls?: ToolCall[] }) | undefined;
  const openAssistant = () => {
    if (!assistant) {
      assistant = { role: 'assistant', content: null };
      messages.push(assistant);
    }
    return assistant;
  };
  items.forEach((raw, index) => {
    const item = parseItem(raw, index);
    switch (item.type) {
      case 'reasoning':
        return;
      case 'function_call': {
        const turn = openAssistant();
        callIds.add(item.call_id);
        turn.tool_calls = [...(turn.tool_calls ?? []), { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } }];
        return;
      }
      case 'function_call_output':
        if (!callIds.has(item.call_id)) {
          throw new GatewayError(400, `No tool call found for function call output with call_id ${item.call_id}.`, 'invalid_function_call_output');
        }
        messages.push({ role: 'tool', tool_call_id: item.call_id, content: textOnly(item.output, 'a function_call_output') });
        assistant = undefined;
        return;
      default:
        if (item.role === 'assistant') {
          const text = textOnly(item.content, 'an assistant message');
          const turn = openAssistant();
          turn.content = (turn.content ?? '') + text;
          return;
        }
        assistant = undefined;
        messages.push({ role: item.role === 'developer' ? 'system' : item.role, content: pivotParts(item.content) });
    }
  });
  return messages;
}

function pivotTools(tools: ResponsesRequest['tools']): FunctionTool[] | undefined {
  if (!tools?.length) return undefined;
  return tools.map((tool) => {
    if (tool.type !== 'function' || !tool.name) throw unsupported(`the "${tool.type}" tool`);
    return {
      type: 'function',
      function: omitUndefined({
        name: tool.name,
        description: tool.description ?? undefined,
        parameters: tool.parameters ?? undefined,
        strict: tool.strict ?? undefined,
      }),
    };
  });
}

function pivotToolChoice(choice: ResponsesRequest['tool_choice']): ChatRequest['tool_choice'] {
  if (choice === null || choice === undefined || typeof choice === 'string') return choice ?? undefined;
  if (choice.type === 'function' && choice.name) return { type: 'function', function: { name: choice.name } };
  throw unsupported(`tool_choice of type "${choice.type}"`);
}

function responseFormat(format: NonNullable<ResponsesRequest['text']>['format']): ChatRequest['response_format'] {
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_object') return { type: 'json_object' };
  return {
    type: 'json_schema',
    json_schema: omitUndefined({ name: format.name ?? 'response', schema: format.schema, description: format.description, strict: format.strict ?? undefined }),
  };
}

/** A Responses request as the pivot; `history` is the stored conversation it continues, oldest first. */
export function responsesToChat(req: ResponsesRequest, history: Item[] = []): ChatRequest {
  const messages = itemsToMessages([...history, ...inputItems(req.input)]);
  if (req.instructions) messages.unshift({ role: 'system', content: req.instructions });
  if (messages.length === 0) throw new GatewayError(400, 'field "input" must not be empty', 'invalid_body');
  const tools = pivotTools(req.tools);
  return omitUndefined({
    model: req.model,
    messages,
    tools,
    tool_choice: tools ? pivotToolChoice(req.tool_choice) : undefined,
    parallel_tool_calls: tools ? (req.parallel_tool_calls ?? undefined) : undefined,
    max_tokens: req.max_output_tokens ?? undefined,
    temperature: req.temperature ?? undefined,
    top_p: req.top_p ?? undefined,
    response_format: responseFormat(req.text?.format),
    reasoning_effort: req.reasoning?.effort ?? undefined,
    stream: req.stream ? true : undefined,
    // The Responses stream ends with the usage: ask an OpenAI-protocol provider for it.
    stream_options: req.stream ? { include_usage: true } : undefined,
    user: req.user ?? undefined,
  });
}
