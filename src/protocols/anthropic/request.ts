import { GatewayError } from '../../errors';
import {
  type ChatMessage,
  type ChatRequest,
  type ContentPart,
  effortOfBudget,
  maxTokensOf,
  omitUndefined,
  stopSequencesOf,
  textOf,
  THINKING_BUDGET,
  type ThinkingBlock,
  toolArgumentsOf,
} from '../pivot/chat';
import { parseDataUrl, toDataUrl } from '../pivot/images';
import type { TranslateContext } from '../adapter';
import type { Block, CountTokensRequest, MessageParam } from './schema';
import { isWebSearchTool, webSearchOptionsOf, webSearchTool } from './web-search';

// Requests both ways: the pivot as an Anthropic Messages request (to an Anthropic provider), and an
// Anthropic client's request as the pivot.

/** Used when neither the request nor the vault says how long an answer may be. */
export const DEFAULT_MAX_TOKENS = 4096;

const unsupported = (what: string) => new GatewayError(400, `${what} cannot be translated to or from Anthropic Messages`, 'unsupported_by_translation');

/** Anthropic tool ids are `[a-zA-Z0-9_-]+`: other ids map to one, the same way every turn. */
export const anthropicToolId = (id: string) => id.replace(/[^a-zA-Z0-9_-]/g, '_') || '_';

function imageBlock(url: string): Record<string, unknown> {
  const inline = parseDataUrl(url);
  if (inline) return { type: 'image', source: { type: 'base64', media_type: inline.mediaType, data: inline.data } };
  if (/^https?:\/\//i.test(url)) return { type: 'image', source: { type: 'url', url } };
  throw new GatewayError(400, 'an image URL must be a data: URL or an http(s) URL', 'invalid_image_url');
}

/** A prompt-caching breakpoint the client set on a part (Anthropic's own field, kept as it is). */
const cacheControlOf = (part: { cache_control?: unknown }) => (part.cache_control ? { cache_control: part.cache_control } : {});

function contentBlocks(content: ChatMessage['content']): Record<string, unknown>[] {
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  return (content ?? []).flatMap((part: ContentPart) => {
    if (part.type === 'text') return part.text ? [{ type: 'text', text: part.text, ...cacheControlOf(part) }] : [];
    if (part.type === 'image_url' && part.image_url) return [{ ...imageBlock(part.image_url.url), ...cacheControlOf(part) }];
    throw unsupported(`a "${part.type}" content part`);
  });
}

/** A message-level `cache_control` marks the message's last block, as Anthropic places breakpoints. */
function withMessageCacheControl(message: ChatMessage, blocks: Record<string, unknown>[]): Record<string, unknown>[] {
  const last = blocks.at(-1);
  if (message.cache_control && last) blocks[blocks.length - 1] = { ...last, cache_control: message.cache_control };
  return blocks;
}

/** Signed thinking blocks, exactly as Anthropic gave them (any other field dropped). */
const thinkingBlocks = (message: ChatMessage) =>
  (message.thinking_blocks ?? []).map((block) =>
    block.type === 'redacted_thinking'
      ? { type: block.type, data: block.data ?? '' }
      : { type: block.type, thinking: block.thinking ?? '', signature: block.signature ?? '' },
  );

function assistantBlocks(message: ChatMessage, withThinking: boolean): Record<string, unknown>[] {
  const calls = (message.tool_calls ?? []).map((call) => ({
    type: 'tool_use',
    id: anthropicToolId(call.id),
    name: call.function.name,
    input: toolArgumentsOf(call.function.arguments, call.function.name),
  }));
  return [...(withThinking ? thinkingBlocks(message) : []), ...contentBlocks(message.content), ...calls];
}

function toolResultBlock(message: ChatMessage): Record<string, unknown> {
  const parts = typeof message.content === 'string' ? [] : (message.content ?? []);
  const marked = parts.findLast((part) => part.cache_control) ?? message;
  return { type: 'tool_result', tool_use_id: anthropicToolId(message.tool_call_id ?? ''), content: textOf(message.content), ...cacheControlOf(marked) };
}

/** The smallest budget Anthropic takes for extended thinking. */
const MIN_THINKING_BUDGET = 1024;

/**
 * `reasoning_effort` as extended thinking, when Anthropic would take it: a budget below `max_tokens`,
 * no forced tool, and — in a tool loop — every assistant turn since the last user text bringing its
 * signed thinking back (Anthropic refuses a loop whose turns lost theirs). Otherwise no thinking,
 * which Anthropic accepts for any history.
 */
function thinkingOf(req: ChatRequest, maxTokens: number): Record<string, unknown> | undefined {
  const effort = req.reasoning_effort;
  if (!effort || effort === 'none') return undefined;
  const budget = Math.min(THINKING_BUDGET[effort] ?? THINKING_BUDGET.medium!, maxTokens - 1);
  if (budget < MIN_THINKING_BUDGET) return undefined;
  const choice = req.tool_choice;
  if (choice === 'required' || (typeof choice === 'object' && choice !== null)) return undefined;
  const lastUserText = req.messages.findLastIndex((m) => m.role === 'user');
  const loop = req.messages.slice(lastUserText + 1).filter((m) => m.role === 'assistant' && m.tool_calls?.length);
  if (loop.some((m) => !m.thinking_blocks?.length)) return undefined;
  return { type: 'enabled', budget_tokens: budget };
}

function toolChoice(req: ChatRequest): Record<string, unknown> | undefined {
  const choice = req.tool_choice;
  const parallel = req.parallel_tool_calls === false ? { disable_parallel_tool_use: true } : {};
  if (choice === 'required') return { type: 'any', ...parallel };
  if (choice === 'none') return { type: 'none' };
  if (typeof choice === 'object' && choice !== null) return { type: 'tool', name: choice.function.name, ...parallel };
  return choice === 'auto' || req.parallel_tool_calls === false ? { type: 'auto', ...parallel } : undefined;
}

/** System and developer messages as Anthropic's `system`: text, or blocks when the client set cache breakpoints. */
function systemOf(messages: ChatMessage[]): string | Record<string, unknown>[] | undefined {
  const system = messages.filter((m) => m.role === 'system' || m.role === 'developer');
  if (system.length === 0) return undefined;
  const cached = system.some((m) => m.cache_control || (Array.isArray(m.content) && m.content.some((part) => part.cache_control)));
  if (!cached) return system.map((m) => textOf(m.content)).join('\n\n');
  return system.flatMap((m) => withMessageCacheControl(m, contentBlocks(m.content)));
}

/** The pivot's functions and web search as Anthropic tools. */
function anthropicTools(tools: ChatRequest['tools'], webSearch: ChatRequest['web_search_options']): Record<string, unknown>[] | undefined {
  const functions = (tools ?? []).map((tool) => ({
    name: tool.function.name,
    description: tool.function.description,
    input_schema: tool.function.parameters ?? { type: 'object', properties: {} },
    ...cacheControlOf(tool),
  }));
  const all = webSearch ? [...functions, webSearchTool(webSearch)] : functions;
  return all.length ? all : undefined;
}

/** The pivot as an Anthropic Messages request. Consecutive turns of one role are merged into one. */
export function chatToMessages(req: ChatRequest, ctx: TranslateContext): Record<string, unknown> {
  if ((req.n ?? 1) > 1) throw unsupported('n > 1');
  const maxTokens = maxTokensOf(req) ?? ctx.maxOutputTokens ?? DEFAULT_MAX_TOKENS;
  const thinking = thinkingOf(req, maxTokens);
  const messages: { role: 'user' | 'assistant'; content: Record<string, unknown>[] }[] = [];
  const add = (role: 'user' | 'assistant', blocks: Record<string, unknown>[]) => {
    const last = messages.at(-1);
    if (last?.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const message of req.messages) {
    if (message.role === 'system' || message.role === 'developer') continue;
    else if (message.role === 'user') add('user', withMessageCacheControl(message, contentBlocks(message.content)));
    else if (message.role === 'assistant') add('assistant', withMessageCacheControl(message, assistantBlocks(message, thinking !== undefined)));
    else if (message.role === 'tool') add('user', [toolResultBlock(message)]);
    else throw unsupported(`a message with role "${message.role}"`);
  }
  const tools = req.tools?.length ? req.tools : undefined;
  return omitUndefined({
    model: ctx.model,
    max_tokens: maxTokens,
    system: systemOf(req.messages),
    messages,
    // Anthropic's range is 0–1, OpenAI's 0–2; with thinking, Anthropic takes neither temperature nor top_p.
    temperature: thinking || req.temperature === null || req.temperature === undefined ? undefined : Math.min(req.temperature, 1),
    top_p: thinking ? undefined : (req.top_p ?? undefined),
    stop_sequences: stopSequencesOf(req),
    stream: req.stream ? true : undefined,
    thinking,
    tools: anthropicTools(tools, req.web_search_options),
    tool_choice: tools ? toolChoice(req) : undefined,
    metadata: req.user ? { user_id: req.user } : undefined,
  });
}

// ——— Anthropic client → pivot ———

function imagePart(block: Block): ContentPart {
  const source = block.source;
  if (source?.type === 'base64' && source.media_type && source.data) {
    return { type: 'image_url', image_url: { url: toDataUrl({ mediaType: source.media_type, data: source.data }) } };
  }
  if (source?.type === 'url' && source.url) return { type: 'image_url', image_url: { url: source.url } };
  throw unsupported(`an image with a "${source?.type}" source`);
}

function toolResultContent(block: Block): { text: string; images: ContentPart[] } {
  if (typeof block.content === 'string') return { text: block.content, images: [] };
  const inner = Array.isArray(block.content) ? (block.content as Block[]) : [];
  return {
    text: inner
      .filter((b) => b.type === 'text')
      .map((b) => b.text ?? '')
      .join('\n'),
    images: inner.filter((b) => b.type === 'image').map(imagePart),
  };
}

/**
 * One Anthropic user turn as pivot messages: its tool results first (one `tool` message each, as
 * OpenAI wants them right after the calls), then its text and images (tool-result images included,
 * since OpenAI tool messages carry text only).
 */
function userMessages(blocks: Block[]): ChatMessage[] {
  const tools: ChatMessage[] = [];
  const parts: ContentPart[] = [];
  for (const block of blocks) {
    if (block.type === 'tool_result') {
      const { text, images } = toolResultContent(block);
      tools.push({ role: 'tool', tool_call_id: block.tool_use_id ?? '', content: block.is_error ? `Error: ${text}` : text });
      parts.push(...images);
    } else if (block.type === 'text') parts.push({ type: 'text', text: block.text ?? '' });
    else if (block.type === 'image') parts.push(imagePart(block));
    else throw unsupported(`a "${block.type}" content block`);
  }
  return parts.length ? [...tools, { role: 'user', content: parts }] : tools;
}

function assistantMessage(blocks: Block[]): ChatMessage {
  const text = blocks
    .filter((b) => b.type === 'text')
    .map((b) => b.text ?? '')
    .join('');
  const thinking = blocks.filter((b) => b.type === 'thinking' || b.type === 'redacted_thinking') as ThinkingBlock[];
  const reasoning = thinking.map((b) => b.thinking ?? '').join('');
  const calls = blocks
    .filter((b) => b.type === 'tool_use')
    .map((b) => ({ id: b.id ?? '', type: 'function', function: { name: b.name ?? '', arguments: JSON.stringify(b.input ?? {}) } }));
  return {
    role: 'assistant',
    content: text || (calls.length ? null : ''),
    ...(calls.length ? { tool_calls: calls } : {}),
    ...(reasoning ? { reasoning_content: reasoning } : {}),
    ...(thinking.length ? { thinking_blocks: thinking } : {}),
  };
}

/** Extended thinking as `reasoning_effort`: the budget's nearest effort; adaptive thinking as medium. */
function effortOf(req: CountTokensRequest): string | undefined {
  const thinking = req.thinking;
  if (thinking?.type === 'enabled') return effortOfBudget(thinking.budget_tokens ?? THINKING_BUDGET.medium!);
  return thinking?.type === 'adaptive' ? 'medium' : undefined;
}

function systemText(system: CountTokensRequest['system']): string {
  if (typeof system === 'string') return system;
  return (system ?? []).map((b) => b.text ?? '').join('\n\n');
}

/** The beta under which Anthropic takes `system` messages inside `messages`. */
export const MID_CONVERSATION_SYSTEM_BETA = 'mid-conversation-system-2026-04-07';

const isSystem = (message: MessageParam) => message.role === 'system';

/**
 * A Messages request for an Anthropic provider: as it is when it has no system message inside
 * `messages` or the client sent the beta that allows them; else those messages folded, in order,
 * into the top-level `system` (the API refuses them without the beta).
 */
export function foldMidConversationSystem<T extends CountTokensRequest>(req: T, betas: string | undefined): T {
  if (!req.messages.some(isSystem)) return req;
  if (betas?.split(',').some((beta) => beta.trim() === MID_CONVERSATION_SYSTEM_BETA)) return req;
  const asBlocks = (system: T['system']): Block[] => (typeof system === 'string' ? (system ? [{ type: 'text', text: system }] : []) : (system ?? []));
  const system = [...asBlocks(req.system), ...req.messages.filter(isSystem).flatMap((m) => asBlocks(m.content))];
  return { ...req, system, messages: req.messages.filter((m) => !isSystem(m)) };
}

function pivotToolChoice(req: CountTokensRequest): Pick<ChatRequest, 'tool_choice' | 'parallel_tool_calls'> {
  const choice = req.tool_choice;
  if (!choice) return {};
  const parallel = choice.disable_parallel_tool_use ? { parallel_tool_calls: false } : {};
  if (choice.type === 'any') return { tool_choice: 'required', ...parallel };
  if (choice.type === 'none') return { tool_choice: 'none' };
  if (choice.type === 'tool' && choice.name) return { tool_choice: { type: 'function', function: { name: choice.name } }, ...parallel };
  return { tool_choice: 'auto', ...parallel };
}

/** An Anthropic client's request (a Messages or a count_tokens request) as the pivot. */
export function messagesToChat(req: CountTokensRequest): ChatRequest {
  const messages: ChatMessage[] = [];
  const system = systemText(req.system);
  if (system) messages.push({ role: 'system', content: system });
  for (const message of req.messages) {
    if (message.role === 'system') messages.push({ role: 'system', content: systemText(message.content) });
    else if (typeof message.content === 'string') messages.push({ role: message.role, content: message.content });
    else if (message.role === 'assistant') messages.push(assistantMessage(message.content));
    else messages.push(...userMessages(message.content));
  }
  const search = req.tools?.find((tool) => isWebSearchTool(tool.type));
  const tools = req.tools
    ?.filter((tool) => tool !== search)
    .map((tool) => {
      if ((tool.type !== undefined && tool.type !== 'custom') || !tool.input_schema) {
        throw unsupported(`the server tool "${tool.name}"${tool.type ? ` (${tool.type})` : ''}`);
      }
      return { type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.input_schema } };
    });
  return omitUndefined({
    model: req.model,
    messages,
    max_tokens: req.max_tokens,
    temperature: req.temperature,
    top_p: req.top_p,
    stop: req.stop_sequences?.length ? req.stop_sequences : undefined,
    stream: req.stream ? true : undefined,
    // An Anthropic stream ends with the usage: ask an OpenAI-protocol provider for it.
    stream_options: req.stream ? { include_usage: true } : undefined,
    tools: tools?.length ? tools : undefined,
    web_search_options: search ? webSearchOptionsOf(search) : undefined,
    ...(tools?.length ? pivotToolChoice(req) : {}),
    reasoning_effort: effortOf(req),
    user: req.metadata?.user_id ?? undefined,
  });
}
