import { GatewayError } from '../../errors';
import {
  type ChatMessage,
  type ChatRequest,
  type ContentPart,
  effortOfBudget,
  type FunctionTool,
  omitUndefined,
  type ToolCall,
  type ToolChoice,
} from '../pivot/chat';
import type { Content, GenerateContentRequest, RequestPart } from './schema';
import { thinkingOfSignature } from './thinking-signature';

// A Gemini client's GenerateContentRequest as the pivot, for a provider of another protocol.
// Function calls and responses pair by id when the client kept it (the door's answers always give
// one), else by name in order, as Gemini pairs them.

const unsupported = (what: string) => new GatewayError(400, `${what} cannot be translated from Gemini for this provider`, 'unsupported_by_translation');

/** Values that are the client's own JSON (arguments, results, schemas): their keys are never renamed. */
const OPAQUE = new Set(['args', 'response', 'parameters', 'parametersJsonSchema', 'responseSchema', 'responseJsonSchema']);

/** Google's API takes `system_instruction` as well as `systemInstruction` (and so on down): the camelCase names. */
export function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => {
      const name = key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
      return [name, OPAQUE.has(name) ? inner : camelKeys(inner)];
    }),
  );
}

/** Gemini's OpenAPI-style Schema (`type: "OBJECT"`, `nullable`) as the JSON Schema other providers take. */
function jsonSchemaOf(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(jsonSchemaOf);
  if (schema === null || typeof schema !== 'object') return schema;
  const { type, nullable, properties, items, anyOf, propertyOrdering: _, ...rest } = schema as Record<string, unknown>;
  const lower = typeof type === 'string' ? type.toLowerCase() : type;
  return omitUndefined({
    ...rest,
    type: nullable === true && typeof lower === 'string' ? [lower, 'null'] : lower,
    properties:
      properties && typeof properties === 'object'
        ? Object.fromEntries(Object.entries(properties).map(([name, inner]) => [name, jsonSchemaOf(inner)]))
        : undefined,
    items: items === undefined ? undefined : jsonSchemaOf(items),
    anyOf: anyOf === undefined ? undefined : jsonSchemaOf(anyOf),
  });
}

/** A part the user sent: text, or an image as a data URL. */
function userPart(part: RequestPart): ContentPart[] {
  if (part.text !== undefined) return part.text ? [{ type: 'text', text: part.text }] : [];
  if (part.inlineData) {
    const { mimeType, data } = part.inlineData;
    if (!mimeType.toLowerCase().startsWith('image/')) throw unsupported(`inline data of type "${mimeType}" (images only)`);
    return [{ type: 'image_url', image_url: { url: `data:${mimeType};base64,${data}` } }];
  }
  if (part.fileData) throw unsupported('a fileData part (a Files API URI: send the bytes as inlineData)');
  const kind = Object.keys(part).find((key) => key !== 'thoughtSignature') ?? 'empty';
  throw unsupported(`a "${kind}" part`);
}

/** A function result as the tool message's text: `{output: "…"}` (how the gateway sends text to Gemini) as its text. */
function resultText(response: Record<string, unknown> | null | undefined): string {
  const keys = Object.keys(response ?? {});
  if (keys.length === 1 && typeof response?.output === 'string') return response.output;
  return JSON.stringify(response ?? {});
}

/** The conversation as pivot messages: each content becomes one assistant message, or tool results then a user message. */
function messagesOf(contents: Content[]): ChatMessage[] {
  const unanswered: { id: string; name: string }[] = [];
  let serial = 0;
  const messages: ChatMessage[] = [];
  for (const content of contents) {
    const role = content.role ?? 'user';
    if (role === 'model') {
      const calls: ToolCall[] = content.parts.flatMap((part) => {
        if (!part.functionCall) return [];
        const id = part.functionCall.id || `call_${serial++}`;
        unanswered.push({ id, name: part.functionCall.name });
        return [{ id, type: 'function', function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) } }];
      });
      const answer = content.parts.filter((part) => !part.thought && part.text).map((part) => part.text);
      const reasoning = content.parts.filter((part) => part.thought && part.text).map((part) => part.text);
      const thinking = content.parts.flatMap((part) => (part.thoughtSignature ? thinkingOfSignature(part.thoughtSignature) : []));
      messages.push(
        omitUndefined({
          role: 'assistant',
          content: answer.length ? answer.join('') : calls.length ? null : '',
          tool_calls: calls.length ? calls : undefined,
          reasoning_content: reasoning.length ? reasoning.join('') : undefined,
          thinking_blocks: thinking.length ? thinking : undefined,
        }),
      );
      continue;
    }
    if (role !== 'user' && role !== 'function')
      throw new GatewayError(400, `a content with role "${role}": Gemini's roles are "user" and "model"`, 'invalid_body');
    const parts: ContentPart[] = [];
    for (const part of content.parts) {
      const result = part.functionResponse;
      if (!result) {
        parts.push(...userPart(part));
        continue;
      }
      const byId = unanswered.findIndex((call) => call.id === result.id);
      const at = byId >= 0 ? byId : unanswered.findIndex((call) => call.name === result.name);
      if (at < 0) {
        throw new GatewayError(400, `functionResponse "${result.name}" answers no functionCall of the conversation`, 'unknown_tool_call');
      }
      const [call] = unanswered.splice(at, 1);
      messages.push({ role: 'tool', tool_call_id: call!.id, content: resultText(result.response) });
    }
    if (parts.length) messages.push({ role: 'user', content: parts.every((part) => part.type === 'text') ? parts.map((p) => p.text).join('') : parts });
  }
  return messages;
}

function toolsOf(body: GenerateContentRequest): FunctionTool[] | undefined {
  const declarations = (body.tools ?? []).flatMap((tool) => tool.functionDeclarations ?? []);
  const allowed = body.toolConfig?.functionCallingConfig?.allowedFunctionNames;
  const offered = allowed?.length ? declarations.filter((d) => allowed.includes(d.name)) : declarations;
  if (!offered.length) return undefined;
  return offered.map((d) => ({
    type: 'function',
    function: omitUndefined({
      name: d.name,
      description: d.description,
      parameters: (d.parametersJsonSchema ?? (d.parameters && jsonSchemaOf(d.parameters))) as Record<string, unknown> | undefined,
    }),
  }));
}

/** Google Search grounding: the pivot's web search, which a provider with its own search runs. */
const GOOGLE_SEARCH = new Set(['googleSearch', 'googleSearchRetrieval']);

const hostedToolNames = (body: GenerateContentRequest) =>
  (body.tools ?? []).flatMap((tool) => Object.keys(tool).filter((key) => key !== 'functionDeclarations'));

/** Tools Gemini runs itself that have no equivalent elsewhere (code execution, URL context, maps…). */
export function geminiOnlyToolsOf(body: GenerateContentRequest): string[] {
  return hostedToolNames(body).filter((name) => !GOOGLE_SEARCH.has(name));
}

function toolChoiceOf(body: GenerateContentRequest): ToolChoice | undefined {
  const config = body.toolConfig?.functionCallingConfig;
  switch (config?.mode?.toUpperCase()) {
    case 'NONE':
      return 'none';
    case 'ANY':
      return config.allowedFunctionNames?.length === 1 ? { type: 'function', function: { name: config.allowedFunctionNames[0]! } } : 'required';
    case 'AUTO':
    case 'VALIDATED':
      return 'auto';
    default:
      return undefined;
  }
}

/** A thinking budget or level as `reasoning_effort`; thoughts asked for without either, the default effort. */
function effortOf(body: GenerateContentRequest): string | undefined {
  const thinking = body.generationConfig?.thinkingConfig;
  if (!thinking) return undefined;
  const level = thinking.thinkingLevel?.toLowerCase();
  if (level && level !== 'thinking_level_unspecified') return level;
  const budget = thinking.thinkingBudget;
  if (budget === 0) return 'none';
  if (budget !== undefined && budget > 0) return effortOfBudget(budget);
  return budget === -1 || thinking.includeThoughts ? 'medium' : undefined;
}

function responseFormatOf(body: GenerateContentRequest): ChatRequest['response_format'] {
  const config = body.generationConfig;
  if (config?.responseMimeType !== 'application/json') return undefined;
  const schema = config.responseJsonSchema ?? (config.responseSchema && (jsonSchemaOf(config.responseSchema) as Record<string, unknown>));
  return schema ? { type: 'json_schema', json_schema: { name: 'response', schema } } : { type: 'json_object' };
}

/** The request as the pivot; `stream` asks for the usage chunk, which becomes the answer's usageMetadata. */
export function generateContentToPivot(body: GenerateContentRequest, model: string, stream: boolean): ChatRequest {
  const system = (body.systemInstruction?.parts ?? []).map((part) => part.text ?? '').join('');
  const config = body.generationConfig;
  const tools = toolsOf(body);
  return omitUndefined({
    model,
    messages: [...(system ? [{ role: 'system', content: system }] : []), ...messagesOf(body.contents)],
    tools,
    tool_choice: tools ? toolChoiceOf(body) : undefined,
    temperature: config?.temperature,
    top_p: config?.topP,
    max_tokens: config?.maxOutputTokens,
    stop: config?.stopSequences,
    seed: config?.seed,
    presence_penalty: config?.presencePenalty,
    frequency_penalty: config?.frequencyPenalty,
    n: config?.candidateCount,
    response_format: responseFormatOf(body),
    reasoning_effort: effortOf(body),
    web_search_options: hostedToolNames(body).some((name) => GOOGLE_SEARCH.has(name)) ? {} : undefined,
    stream: stream || undefined,
    stream_options: stream ? { include_usage: true } : undefined,
  });
}
