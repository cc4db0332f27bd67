import type { Answer, Dialect, ErrorOptions, Incoming, StreamEvent } from './answer';
import { ANTHROPIC_MODELS } from './catalog';
import { answerId, jsonChunks, planReply, textChunks, textOf, tokenCount } from './conversation';

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
}
interface MessageParam {
  role?: string;
  content?: string | Block[];
}

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
  return undefined;
}

/** The request's text for the token count: system, messages and tool definitions. */
const promptTextOf = (body: Json) =>
  [textOf(body.system), ...(body.messages as MessageParam[]).map((m) => textOf(m.content)), ...(Array.isArray(body.tools) ? [JSON.stringify(body.tools)] : [])].join('\n');

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
  const lastUser = [...list].reverse().find((m) => m.role === 'user' && textOf(m.content));
  const tools = Array.isArray(body.tools) ? (body.tools as { name?: unknown }[]) : [];
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
  });

  const id = answerId('msg_');
  const toolId = answerId('toolu_');
  const stopReason = reply.finish === 'tool' ? 'tool_use' : reply.finish === 'length' ? 'max_tokens' : 'end_turn';
  const usage = { input_tokens: reply.promptTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  const headers = { 'request-id': answerId('req_') };
  const call = reply.toolCall;

  if (body.stream !== true) {
    const content = call ? [{ type: 'tool_use', id: toolId, name: call.name, input: call.arguments }] : [{ type: 'text', text: reply.text }];
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
        usage: { ...usage, output_tokens: reply.completionTokens },
      },
    };
  }

  const event = (name: string, data: Json): StreamEvent => ({ event: name, data: JSON.stringify({ type: name, ...data }) });
  const deltas = call
    ? ['', ...jsonChunks(call.argumentsJson)].map((partial_json) => event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json } }))
    : textChunks(reply.text).map((text) => event('content_block_delta', { index: 0, delta: { type: 'text_delta', text } }));
  const events = [
    event('message_start', {
      message: { id, type: 'message', role: 'assistant', model: body.model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
    }),
    event('content_block_start', {
      index: 0,
      content_block: call ? { type: 'tool_use', id: toolId, name: call.name, input: {} } : { type: 'text', text: '' },
    }),
    event('ping', {}),
    ...deltas,
    event('content_block_stop', { index: 0 }),
    event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: reply.completionTokens } }),
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
