import type { Answer, Dialect, ErrorOptions, Incoming, StreamEvent } from './answer';
import { ANTHROPIC_MODELS } from './catalog';
import {
  answerId,
  fitToSchema,
  isSignatureOf,
  jsonChunks,
  planReply,
  PromptCache,
  reasoningFor,
  searchRequested,
  searchSource,
  signatureOf,
  textChunks,
  textOf,
  tokenCount,
  TOOL_NAME,
} from './conversation';

// Anthropic Messages wire format: content blocks, `event:`-named SSE, `{"type":"error",...}` errors.

type Json = Record<string, unknown>;

const ERRORS: Record<number, { type: string; message: string }> = {
  400: { type: 'invalid_request_error', message: 'Invalid request' },
  401: { type: 'authentication_error', message: 'invalid x-api-key' },
  403: { type: 'permission_error', message: 'Your API key does not have permission to use the specified resource.' },
  404: { type: 'not_found_error', message: 'Not Found' },
  413: { type: 'request_too_large', message: 'Request exceeds the maximum allowed number of bytes.' },
  429: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' },
  500: { type: 'api_error', message: 'Internal server error' },
  503: { type: 'overloaded_error', message: 'Overloaded' },
  529: { type: 'overloaded_error', message: 'Overloaded' },
};

export function anthropicError(status: number, options: ErrorOptions = {}): Answer {
  const known = ERRORS[status] ?? ERRORS[status >= 500 ? 500 : 400]!;
  const requestId = answerId('req_');
  const headers: Record<string, string> = { 'request-id': requestId };
  if (options.retryAfter !== undefined) headers['retry-after'] = String(options.retryAfter);
  return {
    kind: 'json',
    status,
    headers,
    body: { type: 'error', error: { type: known.type, message: options.message ?? known.message }, request_id: requestId },
  };
}

interface Block {
  type?: string;
  text?: string;
  id?: string;
  tool_use_id?: string;
  thinking?: string;
  signature?: string;
  cache_control?: unknown;
}
interface MessageParam {
  role?: string;
  content?: string | Block[];
}

const blocksOf = (m: MessageParam | undefined): Block[] => (Array.isArray(m?.content) ? m.content : []);

/**
 * The conversation rules Anthropic enforces: every tool_result answers a tool_use of the message
 * before it; thinking blocks come back with the signature they were given; with thinking on, the
 * assistant turn of an unfinished tool loop starts with its thinking.
 */
function conversationRefusal(list: MessageParam[], thinking: boolean): Answer | undefined {
  for (const [position, message] of list.entries()) {
    const previousIds = new Set(
      blocksOf(list[position - 1])
        .filter((b) => b.type === 'tool_use')
        .map((b) => b.id),
    );
    for (const [index, block] of blocksOf(message).entries()) {
      if (block.type === 'tool_result' && !previousIds.has(block.tool_use_id)) {
        return anthropicError(400, {
          message: `messages.${position}.content.${index}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${block.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
        });
      }
      if (block.type === 'thinking' && !isSignatureOf(block.signature, `thinking:${block.thinking}`)) {
        return anthropicError(400, { message: `messages.${position}.content.${index}: Invalid \`signature\` in \`thinking\` block` });
      }
    }
  }
  const lastAssistant = list.findLastIndex((m) => m.role === 'assistant');
  const first = blocksOf(list[lastAssistant])[0];
  const inLoop = blocksOf(list[lastAssistant]).some((b) => b.type === 'tool_use') && blocksOf(list[lastAssistant + 1]).some((b) => b.type === 'tool_result');
  if (thinking && inLoop && first?.type !== 'thinking' && first?.type !== 'redacted_thinking') {
    return anthropicError(400, {
      message: `messages.${lastAssistant}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${first?.type}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable \`thinking\`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking`,
    });
  }
  return undefined;
}

/** Extended thinking as asked: refused where Anthropic refuses it; undefined when thinking is off. */
function thinkingOf(body: Json): { budget: number } | Answer | undefined {
  const thinking = body.thinking as { type?: string; budget_tokens?: number } | undefined;
  if (!thinking || thinking.type === 'disabled') return undefined;
  if (thinking.type === 'adaptive') return { budget: 0 };
  if (thinking.type !== 'enabled' || typeof thinking.budget_tokens !== 'number')
    return anthropicError(400, { message: 'thinking.enabled.budget_tokens: Field required' });
  if (thinking.budget_tokens < 1024) return anthropicError(400, { message: 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024' });
  if (typeof body.max_tokens === 'number' && body.max_tokens <= thinking.budget_tokens) {
    return anthropicError(400, {
      message:
        '`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size',
    });
  }
  if (body.temperature !== undefined && body.temperature !== 1) {
    return anthropicError(400, {
      message:
        '`temperature` may only be set to 1 when thinking is enabled or in adaptive mode. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility',
    });
  }
  return { budget: thinking.budget_tokens };
}

/** The request up to its last cache_control breakpoint (tools, system, messages in Anthropic's order), as pieces. */
function cachedPrefix(body: Json): string[] | undefined {
  const pieces: { text: string; marked: boolean }[] = [];
  const add = (item: { cache_control?: unknown; text?: string }) => pieces.push({ text: JSON.stringify(item), marked: Boolean(item.cache_control) });
  for (const tool of Array.isArray(body.tools) ? (body.tools as Json[]) : []) add(tool);
  if (Array.isArray(body.system)) for (const block of body.system as Block[]) add(block);
  else if (typeof body.system === 'string') add({ text: body.system });
  for (const message of body.messages as MessageParam[])
    for (const block of typeof message.content === 'string' ? [{ text: message.content }] : blocksOf(message)) add(block);
  const last = pieces.findLastIndex((piece) => piece.marked);
  return last < 0 ? undefined : pieces.slice(0, last + 1).map((piece) => piece.text);
}

/** Server tools this stand-in knows (Anthropic has more; each is refused by name when unknown). */
const SERVER_TOOLS = /^(?:web_search|web_fetch|bash|text_editor|code_execution)_\d{8}$/;
const isWebSearch = (tool: { type?: unknown }) => typeof tool.type === 'string' && /^web_search_\d{8}$/.test(tool.type);

/** What Anthropic refuses of `tools`: a client tool's name outside `^[a-zA-Z0-9_-]{1,64}$`, a type it does not know. */
function toolsRefusal(tools: unknown): Answer | undefined {
  for (const [index, tool] of (Array.isArray(tools) ? (tools as { type?: unknown; name?: unknown }[]) : []).entries()) {
    if (tool.type !== undefined && tool.type !== 'custom' && !SERVER_TOOLS.test(String(tool.type))) {
      return anthropicError(400, {
        message: `tools.${index}: Input tag '${String(tool.type)}' found using 'type' does not match any of the expected tags: 'bash_20250124', 'custom', 'text_editor_20250728', 'web_search_20250305', 'web_fetch_20250910', 'code_execution_20250825'`,
      });
    }
    if ((tool.type === undefined || tool.type === 'custom') && !TOOL_NAME.test(String(tool.name ?? ''))) {
      return anthropicError(400, { message: `tools.${index}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'` });
    }
  }
  return undefined;
}

const cache = new PromptCache();

const hasToolResult = (m: MessageParam | undefined) => Array.isArray(m?.content) && m.content.some((b) => b.type === 'tool_result');

const MID_CONVERSATION_SYSTEM_BETA = 'mid-conversation-system-2026-04-07';

const betasOf = (req: Incoming) => (req.headers['anthropic-beta'] ?? '').split(',').map((beta) => beta.trim());

/** What Messages and count_tokens both refuse, as Anthropic words it; undefined when the request is acceptable. */
function refusal(body: Json, req: Incoming): Answer | undefined {
  if (typeof body.model !== 'string') return anthropicError(400, { message: 'model: Field required' });
  if (!Array.isArray(body.messages)) return anthropicError(400, { message: 'messages: Field required' });
  const list = body.messages as MessageParam[];
  const systemAllowed = betasOf(req).includes(MID_CONVERSATION_SYSTEM_BETA);
  const bad = list.find((m) => m.role !== 'user' && m.role !== 'assistant' && !(systemAllowed && m.role === 'system'));
  if (bad) {
    return anthropicError(400, {
      message: `messages: Unexpected role "${bad.role}". The Messages API accepts a top-level \`system\` parameter, not "system" as an input message role.`,
    });
  }
  const tools = Array.isArray(body.tools) ? (body.tools as { type?: string; input_schema?: { type?: unknown } }[]) : [];
  const badSchema = tools.findIndex((tool) => (tool.type === undefined || tool.type === 'custom') && tool.input_schema?.type !== 'object');
  if (badSchema >= 0) return anthropicError(400, { message: `tools.${badSchema}.custom.input_schema.type: Input should be 'object'` });
  return undefined;
}

/** The request's text for the token count: system, messages and tool definitions. */
const promptTextOf = (body: Json) =>
  [
    textOf(body.system),
    ...(body.messages as MessageParam[]).map((m) => textOf(m.content)),
    ...(Array.isArray(body.tools) ? [JSON.stringify(body.tools)] : []),
  ].join('\n');

function countTokens(body: Json, req: Incoming): Answer {
  const refused = refusal(body, req);
  if (refused) return refused;
  return { kind: 'json', status: 200, headers: { 'request-id': answerId('req_') }, body: { input_tokens: tokenCount(promptTextOf(body)) } };
}

function messages(body: Json, req: Incoming): Answer {
  if (typeof body.max_tokens !== 'number' && typeof body.model === 'string') return anthropicError(400, { message: 'max_tokens: Field required' });
  const refused = refusal(body, req);
  if (refused) return refused;
  const list = body.messages as MessageParam[];
  const thinking = thinkingOf(body);
  if (thinking && 'kind' in thinking) return thinking;
  const conversation = conversationRefusal(list, thinking !== undefined) ?? toolsRefusal(body.tools);
  if (conversation) return conversation;
  const lastUser = [...list].reverse().find((m) => m.role === 'user' && textOf(m.content));
  const turnStart = list.findLastIndex((m) => m.role === 'user' && !hasToolResult(m));
  const allTools = Array.isArray(body.tools) ? (body.tools as { type?: unknown; name?: unknown; input_schema?: unknown }[]) : [];
  const tools = allTools.filter((tool) => !SERVER_TOOLS.test(String(tool.type)));
  const choice = body.tool_choice as { type?: string; name?: string } | undefined;
  const forcedTool = choice?.type === 'any' ? true : choice?.type === 'tool' && choice.name ? choice.name : undefined;
  const last = list.at(-1);
  const reply = planReply({
    lastUserText: textOf(lastUser?.content),
    endsWithUserText: last?.role === 'user' && !hasToolResult(last),
    promptText: [textOf(body.system), ...list.map((m) => textOf(m.content))].join('\n'),
    toolNames: choice?.type === 'none' ? [] : tools.map((t) => t.name).filter((n): n is string => typeof n === 'string'),
    forcedTool,
    maxTokens: body.max_tokens as number,
    toolResultsSinceUser: list
      .slice(turnStart + 1)
      .flatMap(blocksOf)
      .filter((b) => b.type === 'tool_result').length,
  });

  const id = answerId('msg_');
  const toolId = answerId('toolu_');
  const stopReason = reply.finish === 'tool' ? 'tool_use' : reply.finish === 'length' ? 'max_tokens' : 'end_turn';
  // A prompt prefix marked with cache_control is written to the cache once, then read from it.
  const prefix = cachedPrefix(body);
  const prefixTokens = prefix ? Math.min(tokenCount(prefix.join('')), reply.promptTokens) : 0;
  const read = prefix ? Math.min(cache.lookup(prefix), prefixTokens) : 0;
  const written = prefix && read === 0 ? prefixTokens : 0;
  const usage = { input_tokens: reply.promptTokens - read - written, cache_creation_input_tokens: written, cache_read_input_tokens: read };
  const headers = { 'request-id': answerId('req_') };
  const call = reply.toolCall && fitToSchema(reply.toolCall, tools.find((tool) => tool.name === reply.toolCall!.name)?.input_schema);
  const reasoning = thinking ? reasoningFor(reply.lastUserText ?? '') : undefined;
  // The web search server tool searches for the question, then the answer cites what it found.
  const query = !call && allTools.some(isWebSearch) && searchRequested(reply.lastUserText ?? '') ? (reply.lastUserText ?? '') : undefined;
  const source = query === undefined ? undefined : searchSource(query);
  const searchId = answerId('srvtoolu_');
  const searchBlocks = source
    ? [
        { type: 'server_tool_use', id: searchId, name: 'web_search', input: { query } },
        {
          type: 'web_search_tool_result',
          tool_use_id: searchId,
          content: [{ type: 'web_search_result', url: source.url, title: source.title, encrypted_content: 'standin-page', page_age: null }],
        },
      ]
    : [];
  const citations = source
    ? [{ type: 'web_search_result_location', url: source.url, title: source.title, cited_text: reply.text, encrypted_index: 'standin' }]
    : undefined;
  const thinkingBlock = reasoning === undefined ? [] : [{ type: 'thinking', thinking: reasoning, signature: signatureOf(`thinking:${reasoning}`) }];
  const outputTokens = reply.completionTokens + (reasoning ? tokenCount(reasoning) : 0);

  if (body.stream !== true) {
    const answer = call
      ? [{ type: 'tool_use', id: toolId, name: call.name, input: call.arguments }]
      : [{ type: 'text', text: reply.text, ...(citations ? { citations } : {}) }];
    const content = [...thinkingBlock, ...searchBlocks, ...answer];
    return {
      kind: 'json',
      status: 200,
      headers,
      body: {
        id,
        type: 'message',
        role: 'assistant',
        model: body.model,
        content,
        stop_reason: stopReason,
        stop_sequence: null,
        usage: { ...usage, output_tokens: outputTokens },
      },
    };
  }

  const event = (name: string, data: Json): StreamEvent => ({ event: name, data: JSON.stringify({ type: name, ...data }) });
  const at = thinkingBlock.length + searchBlocks.length;
  const searchEvents = searchBlocks.flatMap((block, i) => {
    const index = thinkingBlock.length + i;
    if (block.type === 'web_search_tool_result') {
      return [event('content_block_start', { index, content_block: block }), event('content_block_stop', { index })];
    }
    return [
      event('content_block_start', { index, content_block: { ...block, input: {} } }),
      ...jsonChunks(JSON.stringify(block.input)).map((partial_json) =>
        event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json } }),
      ),
      event('content_block_stop', { index }),
    ];
  });
  const citationEvents = (citations ?? []).map((citation) => event('content_block_delta', { index: at, delta: { type: 'citations_delta', citation } }));
  const thinkingEvents = thinkingBlock.flatMap((block) => [
    event('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '', signature: '' } }),
    ...textChunks(block.thinking).map((thinking) => event('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking } })),
    event('content_block_delta', { index: 0, delta: { type: 'signature_delta', signature: block.signature } }),
    event('content_block_stop', { index: 0 }),
  ]);
  const deltas = call
    ? ['', ...jsonChunks(call.argumentsJson)].map((partial_json) =>
        event('content_block_delta', { index: at, delta: { type: 'input_json_delta', partial_json } }),
      )
    : textChunks(reply.text).map((text) => event('content_block_delta', { index: at, delta: { type: 'text_delta', text } }));
  const events = [
    event('message_start', {
      message: {
        id,
        type: 'message',
        role: 'assistant',
        model: body.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: 1 },
      },
    }),
    ...thinkingEvents,
    ...searchEvents,
    event('content_block_start', {
      index: at,
      content_block: call ? { type: 'tool_use', id: toolId, name: call.name, input: {} } : { type: 'text', text: '', ...(citations ? { citations: [] } : {}) },
    }),
    event('ping', {}),
    ...citationEvents,
    ...deltas,
    event('content_block_stop', { index: at }),
    event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } }),
    event('message_stop', {}),
  ];
  return { kind: 'stream', format: 'sse', events, headers };
}

function models(req: Incoming): Answer {
  const headers = { 'request-id': answerId('req_') };
  const entries = ANTHROPIC_MODELS.map((m) => ({ type: 'model', ...m }));
  if (req.operation === 'models') {
    return { kind: 'json', status: 200, headers, body: { data: entries, has_more: false, first_id: entries[0]!.id, last_id: entries.at(-1)!.id } };
  }
  const id = decodeURIComponent(req.operation.slice('models/'.length));
  const model = entries.find((m) => m.id === id);
  return model ? { kind: 'json', status: 200, headers, body: model } : anthropicError(404, { message: `model: ${id}` });
}

export const anthropic: Dialect = {
  // `x-api-key`, or `Authorization: Bearer` as the official SDK (1.x) sends the key.
  keyOf: (req) => req.headers['x-api-key'] || /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim() || undefined,
  authError: (kind) => anthropicError(401, { message: kind === 'missing' ? 'x-api-key header is required' : 'invalid x-api-key' }),
  error: anthropicError,
  modelOf: (req) => (typeof req.json?.model === 'string' ? req.json.model : undefined),
  reject: (req) => (req.headers['anthropic-version'] ? undefined : anthropicError(400, { message: 'anthropic-version: header is required' })),
  handle(req) {
    if (req.method === 'GET' && (req.operation === 'models' || req.operation.startsWith('models/'))) return models(req);
    if (req.method === 'POST' && (req.operation === 'messages' || req.operation === 'messages/count_tokens')) {
      if (!req.json) return anthropicError(400, { message: 'There was an error parsing the body of your request: invalid JSON' });
      return req.operation === 'messages' ? messages(req.json, req) : countTokens(req.json, req);
    }
    return anthropicError(404, { message: 'Not Found' });
  },
};
