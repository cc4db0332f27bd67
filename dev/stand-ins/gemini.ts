import type { Answer, Dialect, ErrorOptions, Incoming } from './answer';
import { GEMINI_MODELS } from './catalog';
import {
  answerId,
  embeddingOf,
  fitToSchema,
  isSignatureOf,
  planReply,
  PromptCache,
  reasoningFor,
  searchRequested,
  searchSource,
  signatureOf,
  textChunks,
  textOf,
  tokenCount,
} from './conversation';

// Gemini (Generative Language API v1beta) wire format: `contents[].parts[]`, `candidates`,
// `usageMetadata`, Google RPC errors, and `alt=sse` streams framed with CRLF like Google's.

type Json = Record<string, unknown>;

const ERRORS: Record<number, { status: string; message: string }> = {
  400: { status: 'INVALID_ARGUMENT', message: 'Request contains an invalid argument.' },
  403: {
    status: 'PERMISSION_DENIED',
    message:
      "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API identity to call this API.",
  },
  404: { status: 'NOT_FOUND', message: 'Requested entity was not found.' },
  429: { status: 'RESOURCE_EXHAUSTED', message: 'Resource has been exhausted (e.g. check quota).' },
  500: {
    status: 'INTERNAL',
    message: 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  },
  503: { status: 'UNAVAILABLE', message: 'The model is overloaded. Please try again later.' },
  504: { status: 'DEADLINE_EXCEEDED', message: 'The request timed out. Please try again.' },
};

export function geminiError(status: number, options: ErrorOptions & { details?: unknown[] } = {}): Answer {
  const known = ERRORS[status] ?? ERRORS[status >= 500 ? 500 : 400]!;
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=UTF-8' };
  const details = options.details ? [...options.details] : [];
  if (options.retryAfter !== undefined) {
    headers['retry-after'] = String(options.retryAfter);
    details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${options.retryAfter}s` });
  }
  const error = { code: status, message: options.message ?? known.message, status: known.status, ...(details.length ? { details } : {}) };
  return { kind: 'json', status, headers, body: { error } };
}

// Google answers an unknown key with 400 INVALID_ARGUMENT (reason API_KEY_INVALID), not 401.
const invalidKey = () =>
  geminiError(400, {
    message: 'API key not valid. Please pass a valid API key.',
    details: [
      {
        '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
        reason: 'API_KEY_INVALID',
        domain: 'googleapis.com',
        metadata: { service: 'generativelanguage.googleapis.com' },
      },
    ],
  });

const ok = (body: unknown): Answer => ({ kind: 'json', status: 200, body, headers: { 'content-type': 'application/json; charset=UTF-8' } });

const MODEL_CALL = /^models\/([^/:]+):([A-Za-z]+)$/;

interface Part {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  functionCall?: { name?: string; args?: unknown };
  functionResponse?: unknown;
}
interface Content {
  role?: string;
  parts?: Part[];
}

const callSignature = (call: { name?: string; args?: unknown }) => signatureOf(`functionCall:${call.name}:${JSON.stringify(call.args ?? {})}`);

/**
 * Gemini 3 validates thought signatures: in the current turn (since the last user text), the first
 * function call of each model step must come back with the signature it was given.
 */
function signatureRefusal(model: string, contents: Content[]): Answer | undefined {
  if (!GEMINI_MODELS.find((m) => m.name === `models/${model}`)?.signaturesRequired) return undefined;
  const turnStart = contents.findLastIndex((c) => (c.role ?? 'user') === 'user' && c.parts?.some((p) => p.text !== undefined));
  for (const [position, content] of contents.entries()) {
    if (position <= turnStart || content.role !== 'model') continue;
    const first = content.parts?.find((p) => p.functionCall);
    if (!first?.functionCall) continue;
    if (first.thoughtSignature === undefined) {
      return geminiError(400, {
        message: `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${first.functionCall.name}\` , position ${position + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
      });
    }
    if (!isSignatureOf(first.thoughtSignature, `functionCall:${first.functionCall.name}:${JSON.stringify(first.functionCall.args ?? {})}`)) {
      return geminiError(400, { message: 'Thought signature is not valid.' });
    }
  }
  return undefined;
}

/** A function name as Gemini takes it. */
const FUNCTION_NAME = /^[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}$/;
const TOOL_FIELDS = new Set(['functionDeclarations', 'googleSearch', 'googleSearchRetrieval', 'codeExecution', 'urlContext']);

interface Tool {
  functionDeclarations?: { name?: unknown; parametersJsonSchema?: unknown; parameters?: unknown }[];
  googleSearch?: unknown;
}

/**
 * What Gemini refuses of `tools`: a field it does not know, a function name it does not take, and
 * Google Search beside function declarations on a model before Gemini 3.
 */
function toolsRefusal(model: string, tools: Tool[]): Answer | undefined {
  for (const [index, tool] of tools.entries()) {
    const unknown = Object.keys(tool).find((field) => !TOOL_FIELDS.has(field));
    if (unknown) return geminiError(400, { message: `Invalid JSON payload received. Unknown name "${unknown}" at 'tools[${index}]': Cannot find field.` });
    for (const [position, declaration] of (tool.functionDeclarations ?? []).entries()) {
      if (!FUNCTION_NAME.test(String(declaration.name ?? ''))) {
        return geminiError(400, {
          message: `* GenerateContentRequest.tools[${index}].function_declarations[${position}].name: Invalid function name. Must start with a letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:) or dashes (-), with a maximum length of 128.\n`,
        });
      }
    }
  }
  const searches = tools.some((tool) => tool.googleSearch !== undefined);
  if (searches && tools.some((tool) => tool.functionDeclarations?.length) && !/^gemini-(?:[3-9]|\d{2,})/.test(model)) {
    return geminiError(400, { message: 'Tool use with function calling is unsupported by the model.' });
  }
  return undefined;
}

const cache = new PromptCache();

function generate(model: string, body: Json, stream: 'sse' | 'json-array' | undefined): Answer {
  if (!Array.isArray(body.contents) || body.contents.length === 0) {
    return geminiError(400, { message: '* GenerateContentRequest.contents: contents is not specified\n' });
  }
  const contents = body.contents as Content[];
  const tools = Array.isArray(body.tools) ? (body.tools as Tool[]) : [];
  const refused = signatureRefusal(model, contents) ?? toolsRefusal(model, tools);
  if (refused) return refused;
  const isUser = (c: Content) => (c.role ?? 'user') === 'user';
  const lastUser = [...contents].reverse().find((c) => isUser(c) && textOf(c.parts));
  const last = contents.at(-1);
  const declarations = ((body.tools as { functionDeclarations?: { name?: unknown }[] }[] | undefined) ?? []).flatMap((t) => t.functionDeclarations ?? []);
  const calling = (body.toolConfig as { functionCallingConfig?: { mode?: string; allowedFunctionNames?: string[] } } | undefined)?.functionCallingConfig;
  const config = (body.generationConfig ?? {}) as { maxOutputTokens?: number; thinkingConfig?: { includeThoughts?: boolean; thinkingBudget?: number } };
  const thinkingModel = Boolean(GEMINI_MODELS.find((m) => m.name === `models/${model}`)?.thinking);
  const thinks = thinkingModel && config.thinkingConfig?.thinkingBudget !== 0;
  const turnStart = contents.findLastIndex((c) => isUser(c) && c.parts?.some((p) => p.text !== undefined));
  const reply = planReply({
    lastUserText: textOf(lastUser?.parts),
    endsWithUserText: last !== undefined && isUser(last) && !last.parts?.some((p) => p.functionResponse),
    promptText: [textOf((body.systemInstruction as Content | undefined)?.parts), ...contents.map((c) => textOf(c.parts))].join('\n'),
    toolNames: calling?.mode === 'NONE' ? [] : declarations.map((d) => d.name).filter((n): n is string => typeof n === 'string'),
    forcedTool: calling?.mode === 'ANY' ? (calling.allowedFunctionNames?.[0] ?? true) : undefined,
    maxTokens: config.maxOutputTokens,
    toolResultsSinceUser: contents
      .slice(turnStart + 1)
      .flatMap((c) => c.parts ?? [])
      .filter((p) => p.functionResponse).length,
  });

  const responseId = answerId('');
  // Thinking models think (and bill it) whether or not the thoughts are shown.
  const reasoning = thinks ? reasoningFor(reply.lastUserText ?? '') : '';
  const thoughts = reasoning && config.thinkingConfig?.includeThoughts ? [{ text: reasoning, thought: true }] : [];
  const thoughtsTokenCount = reasoning ? tokenCount(reasoning) : 0;
  const cachedContentTokenCount = Math.min(cache.lookup(contents.map((c) => JSON.stringify(c))), reply.promptTokens);
  const finishReason = reply.finish === 'length' ? 'MAX_TOKENS' : 'STOP';
  const usage = (candidates: number) => ({
    promptTokenCount: reply.promptTokens,
    candidatesTokenCount: candidates,
    totalTokenCount: reply.promptTokens + candidates + thoughtsTokenCount,
    ...(thoughtsTokenCount ? { thoughtsTokenCount } : {}),
    ...(cachedContentTokenCount ? { cachedContentTokenCount } : {}),
  });
  const response = (parts: unknown[], finish: string | undefined, candidates: number) => ({
    candidates: [{ content: { parts, role: 'model' }, ...(finish ? { finishReason: finish } : {}), index: 0 }],
    usageMetadata: usage(candidates),
    modelVersion: model,
    responseId,
  });
  const declared = declarations as { name?: unknown; parametersJsonSchema?: unknown; parameters?: unknown }[];
  const schema = (name: string) => declared.find((d) => d.name === name);
  const call = reply.toolCall && fitToSchema(reply.toolCall, schema(reply.toolCall.name)?.parametersJsonSchema ?? schema(reply.toolCall.name)?.parameters);
  // Google Search grounding: a search for the question, its one source supporting the whole answer.
  const query = !call && tools.some((tool) => tool.googleSearch !== undefined) && searchRequested(reply.lastUserText ?? '') ? reply.lastUserText! : undefined;
  const source = query === undefined ? undefined : searchSource(query);
  const groundingMetadata = source && {
    webSearchQueries: [query],
    groundingChunks: [{ web: { uri: source.url, title: source.title } }],
    groundingSupports: [{ segment: { startIndex: 0, endIndex: Buffer.byteLength(reply.text), text: reply.text }, groundingChunkIndices: [0] }],
  };
  const grounded = (answer: ReturnType<typeof response>) =>
    groundingMetadata ? { ...answer, candidates: answer.candidates.map((c) => ({ ...c, groundingMetadata })) } : answer;
  // A thinking model signs its function calls (and the last part of a text answer).
  const callPart = call && {
    functionCall: { name: call.name, args: call.arguments },
    ...(thinks ? { thoughtSignature: callSignature({ name: call.name, args: call.arguments }) } : {}),
  };
  const textSignature = thinks ? { thoughtSignature: signatureOf(`text:${reply.text}`) } : {};

  if (!stream) {
    const parts = callPart ? [...thoughts, callPart] : [...thoughts, { text: reply.text, ...textSignature }];
    return ok(grounded(response(parts, finishReason, reply.completionTokens)));
  }
  const chunks = thoughts.length ? [response(thoughts, undefined, 0)] : [];
  if (callPart) chunks.push(response([callPart], finishReason, reply.completionTokens));
  else {
    const pieces = textChunks(reply.text);
    let sent = '';
    for (const [i, text] of pieces.entries()) {
      sent += text;
      const last = i === pieces.length - 1;
      const piece = response([{ text, ...(last ? textSignature : {}) }], last ? finishReason : undefined, tokenCount(sent));
      chunks.push(last ? grounded(piece) : piece);
    }
  }
  return {
    kind: 'stream',
    format: stream === 'sse' ? 'sse-crlf' : 'json-array',
    events: chunks.map((chunk) => ({ data: JSON.stringify(chunk) })),
  };
}

/**
 * countTokens takes either `contents` or a whole `generateContentRequest` (its system instruction
 * and tools counted too, and its `model` required), never both.
 */
function countTokens(body: Json): Answer {
  const request = body.generateContentRequest as Json | undefined;
  if (request && body.contents) return geminiError(400, { message: 'contents and generateContentRequest cannot both be set.' });
  if (request && typeof request.model !== 'string') {
    return geminiError(400, { message: '* CountTokensRequest.generate_content_request.model: model is not specified\n' });
  }
  const contents = (request ? request.contents : body.contents) as Content[] | undefined;
  if (!Array.isArray(contents) || contents.length === 0) return geminiError(400, { message: '* CountTokensRequest.contents: contents is not specified\n' });
  const text = [
    ...(request?.systemInstruction ? [textOf((request.systemInstruction as Content).parts)] : []),
    ...contents.map((c) => textOf(c.parts)),
    ...(request?.tools ? [JSON.stringify(request.tools)] : []),
  ].join('\n');
  return ok({ totalTokens: tokenCount(text) });
}

const contentText = (content: unknown) => textOf((content as Content | undefined)?.parts);

function embed(body: Json): Answer {
  const dims = typeof body.outputDimensionality === 'number' ? body.outputDimensionality : 8;
  return ok({ embedding: { values: embeddingOf(contentText(body.content), dims) } });
}

function batchEmbed(body: Json): Answer {
  const requests = Array.isArray(body.requests) ? (body.requests as Json[]) : [];
  return ok({
    embeddings: requests.map((r) => ({ values: embeddingOf(contentText(r.content), typeof r.outputDimensionality === 'number' ? r.outputDimensionality : 8) })),
  });
}

function models(req: Incoming): Answer {
  if (req.operation === 'models') return ok({ models: GEMINI_MODELS });
  const name = req.operation;
  const model = GEMINI_MODELS.find((m) => m.name === name);
  return model
    ? ok(model)
    : geminiError(404, { message: `models/${name.slice('models/'.length)} is not found for API version v1beta, or is not supported for generateContent.` });
}

export const gemini: Dialect = {
  keyOf: (req) => req.headers['x-goog-api-key'] || req.query.get('key') || undefined,
  authError: (kind) => (kind === 'missing' ? geminiError(403) : invalidKey()),
  error: geminiError,
  modelOf: (req) => MODEL_CALL.exec(req.operation)?.[1],
  handle(req) {
    if (req.method === 'GET' && (req.operation === 'models' || req.operation.startsWith('models/'))) return models(req);
    const call = MODEL_CALL.exec(req.operation);
    if (req.method !== 'POST' || !call) return geminiError(404, { message: `Method not found: ${req.method} /${req.operation}` });
    if (!req.json) return geminiError(400, { message: 'Invalid JSON payload received.' });
    const [, model, method] = call as unknown as [string, string, string];
    switch (method) {
      case 'generateContent':
        return generate(model, req.json, undefined);
      case 'streamGenerateContent':
        return generate(model, req.json, req.query.get('alt') === 'sse' ? 'sse' : 'json-array');
      case 'embedContent':
        return embed(req.json);
      case 'batchEmbedContents':
        return batchEmbed(req.json);
      case 'countTokens':
        return countTokens(req.json);
      default:
        return geminiError(404, { message: `Method not found: ${method}` });
    }
  },
};
