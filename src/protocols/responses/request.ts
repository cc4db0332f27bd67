import { GatewayError } from '../../errors';
import type { ChatMessage, ChatRequest, ContentPart as PivotPart, ThinkingBlock, ToolCall } from '../pivot/chat';
import { omitUndefined } from '../pivot/chat';
import { describeIssues } from '../../vault/schema';
import { thinkingBlocksOf } from './reasoning';
import { type ContentPart, InputItem, type Item, type ResponsesRequest } from './schema';
import { CUSTOM_INPUT, isWebSearchTool, pivotToolName, RequestTools } from './tools';

// A Responses request (and the stored conversation it continues) as the pivot, for providers that
// do not speak the Responses API. Reasoning items carry on only as Anthropic's signed thinking
// (reasoning.ts); the rest are dropped, as are hosted web search calls (their findings are in the
// answer's text): every provider accepts a conversation without them.

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

const KNOWN_ITEMS = ['message', 'function_call', 'function_call_output', 'custom_tool_call', 'custom_tool_call_output', 'reasoning', 'web_search_call'];

/** An input item as translation reads it; undefined for a reasoning item it cannot read (never a refusal). */
function parseItem(raw: Item, index: number): InputItem | undefined {
  const parsed = InputItem.safeParse(raw);
  if (parsed.success) return parsed.data;
  const type = typeof raw.type === 'string' ? raw.type : 'message';
  if (type === 'reasoning') return undefined;
  if (!KNOWN_ITEMS.includes(type)) throw unsupported(`an input item of type "${type}"`);
  throw new GatewayError(400, `input[${index}] (${type}): ${describeIssues(parsed.error)}`, 'invalid_body');
}

/** Conversation items as pivot messages: function calls join the assistant turn they belong to. */
export function itemsToMessages(items: Item[]): ChatMessage[] {
  const messages: ChatMessage[] = [];
  const callIds = new Set<string>();
  // The assistant message that function_call items join, until a non-assistant message comes.
  let assistant: (ChatMessage & { tool_calls?: ToolCall[]; thinking_blocks?: ThinkingBlock[] }) | undefined;
  // Signed thinking of a reasoning item, for the assistant turn it comes before.
  let thinking: ThinkingBlock[] = [];
  const openAssistant = () => {
    if (!assistant) {
      assistant = { role: 'assistant', content: null, ...(thinking.length ? { thinking_blocks: thinking } : {}) };
      messages.push(assistant);
    }
    thinking = [];
    return assistant;
  };
  const closeAssistant = () => {
    assistant = undefined;
    thinking = [];
  };
  const addCall = (callId: string, name: string, args: string) => {
    const turn = openAssistant();
    callIds.add(callId);
    turn.tool_calls = [...(turn.tool_calls ?? []), { id: callId, type: 'function', function: { name, arguments: args } }];
  };
  const addOutput = (callId: string, output: string | ContentPart[], what: string) => {
    if (!callIds.has(callId)) {
      throw new GatewayError(400, `No tool call found for ${what} with call_id ${callId}.`, 'invalid_function_call_output');
    }
    messages.push({ role: 'tool', tool_call_id: callId, content: textOnly(output, `a ${what.replaceAll(' ', '_')}`) });
    closeAssistant();
  };
  items.forEach((raw, index) => {
    const item = parseItem(raw, index);
    if (!item) return;
    switch (item.type) {
      case 'web_search_call':
        return;
      case 'reasoning': {
        const blocks = thinkingBlocksOf(item.encrypted_content);
        if (assistant) assistant.thinking_blocks = [...(assistant.thinking_blocks ?? []), ...blocks];
        else thinking.push(...blocks);
        return;
      }
      case 'function_call':
        addCall(item.call_id, pivotToolName(item), item.arguments);
        return;
      case 'custom_tool_call':
        addCall(item.call_id, pivotToolName(item), JSON.stringify({ [CUSTOM_INPUT]: item.input }));
        return;
      case 'function_call_output':
        addOutput(item.call_id, item.output, 'function call output');
        return;
      case 'custom_tool_call_output':
        addOutput(item.call_id, item.output, 'custom tool call output');
        return;
      default:
        if (item.role === 'assistant') {
          const text = textOnly(item.content, 'an assistant message');
          const turn = openAssistant();
          turn.content = (turn.content ?? '') + text;
          return;
        }
        closeAssistant();
        messages.push({ role: item.role === 'developer' ? 'system' : item.role, content: pivotParts(item.content) });
    }
  });
  return messages;
}

function pivotToolChoice(choice: ResponsesRequest['tool_choice']): ChatRequest['tool_choice'] {
  if (choice === null || choice === undefined || typeof choice === 'string') return choice ?? undefined;
  if ((choice.type === 'function' || choice.type === 'custom') && choice.name)
    return { type: 'function', function: { name: pivotToolName({ name: choice.name }) } };
  // Forcing the hosted search: the provider searches when it sees fit.
  if (isWebSearchTool(choice.type)) return 'auto';
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
  const { functions: declared, webSearch } = new RequestTools(req.tools);
  const tools = declared.length ? declared : undefined;
  return omitUndefined({
    model: req.model,
    messages,
    tools,
    web_search_options: webSearch,
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
