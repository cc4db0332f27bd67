import * as z from 'zod';
import { GatewayError } from '../errors';
import { type WireProtocol, wireProtocol } from '../providers/table';
import { describeIssues, type Provider } from '../vault/schema';
import { ModelField } from '../protocols/pivot/model';

// The operations the gateway forwards, per wire protocol: each with its method, where its model lives
// and the schema of its JSON body. Anything else is refused with nothing sent (deny by default): files,
// batches, fine-tuning, stored completions, realtime, admin APIs, any DELETE. A vault provider may
// widen its own table with `operations` (the operator's explicit choice, README "Security").

/** Plain path segments only: no `.`/`..`, no percent-escapes, no empty segments. */
const SAFE_OPERATION = /^(?:[A-Za-z0-9_\-:]+(?:\.[A-Za-z0-9_\-:]+)*)(?:\/[A-Za-z0-9_\-:]+(?:\.[A-Za-z0-9_\-:]+)*)*$/;

export type OperationKind = 'chat' | 'embedding' | 'other';

/**
 * Where the model of an operation is read: a JSON `model` field, the path (Gemini `models/{m}:…`), a
 * multipart `model` part (uploads, which may also come as JSON), nowhere because none is used (GET
 * models), or nowhere the gateway can read (an operation the vault widened the table with).
 */
export type ModelPlace = 'body' | 'path' | 'form' | 'none' | 'unknown';

export interface Operation {
  path: string;
  kind: OperationKind;
  model: ModelPlace;
  /** Model named in the path (Gemini `models/{model}:method`). */
  pathModel?: string;
  /** The JSON body's schema, for operations that take JSON. */
  schema?: z.ZodType<Record<string, unknown>>;
}

const ChatCompletionsBody = z.looseObject({
  model: ModelField,
  messages: z.array(z.unknown(), { error: 'field "messages" is required (an array of messages)' }).min(1, 'field "messages" must not be empty'),
});
const ModelBody = z.looseObject({ model: ModelField });
const EmbeddingsBody = z.looseObject({
  model: ModelField,
  input: z.unknown().refine((input) => input !== undefined && input !== null, 'field "input" is required'),
});
const MessagesBody = ChatCompletionsBody;
const GeminiBody = z.looseObject({});
const OptionalModelBody = z.looseObject({ model: ModelField.optional() });

interface Rule {
  method: 'GET' | 'POST';
  /** The operation path, or a pattern whose first group is the model (Gemini). */
  path: string | RegExp;
  kind: OperationKind;
  model: ModelPlace;
  schema?: z.ZodType<Record<string, unknown>>;
}

const post = (path: string | RegExp, kind: OperationKind, model: ModelPlace, schema?: Rule['schema']): Rule => ({ method: 'POST', path, kind, model, schema });
const LIST_MODELS: Rule[] = [
  { method: 'GET', path: 'models', kind: 'other', model: 'none' },
  { method: 'GET', path: /^models\/([^/]+)$/, kind: 'other', model: 'none' },
];

/** The table: what each wire protocol forwards. */
export const OPERATIONS: Record<WireProtocol, Rule[]> = {
  openai: [
    post('chat/completions', 'chat', 'body', ChatCompletionsBody),
    post('completions', 'chat', 'body', ModelBody),
    post('embeddings', 'embedding', 'body', EmbeddingsBody),
    post('images/generations', 'other', 'body', OptionalModelBody),
    post('images/edits', 'other', 'form', OptionalModelBody),
    post('audio/speech', 'other', 'body', OptionalModelBody),
    post('audio/transcriptions', 'other', 'form', OptionalModelBody),
    post('audio/translations', 'other', 'form', OptionalModelBody),
    post('moderations', 'other', 'body', OptionalModelBody),
    post('responses', 'chat', 'body', ModelBody),
    ...LIST_MODELS,
  ],
  anthropic: [
    post('messages', 'chat', 'body', MessagesBody),
    post('messages/count_tokens', 'chat', 'body', MessagesBody),
    // Anthropic's OpenAI-compatible layer, and what AI Gateway's unified endpoint serves for it.
    post('chat/completions', 'chat', 'body', ChatCompletionsBody),
    ...LIST_MODELS,
  ],
  gemini: [
    post(/^models\/([^/:]+):(?:generateContent|streamGenerateContent|countTokens)$/, 'chat', 'path', GeminiBody),
    post(/^models\/([^/:]+):(?:embedContent|batchEmbedContents)$/, 'embedding', 'path', GeminiBody),
    // Gemini's OpenAI-compatible layer (`v1beta/openai/…`).
    post('openai/chat/completions', 'chat', 'body', ChatCompletionsBody),
    post('openai/embeddings', 'embedding', 'body', EmbeddingsBody),
    ...LIST_MODELS,
  ],
};

/** Each protocol's table as looked up: fixed paths by `METHOD path` (the first rule for one), patterns in table order. */
const TABLES = Object.fromEntries(
  Object.entries(OPERATIONS).map(([protocol, rules]) => {
    const exact = new Map<string, Rule>();
    for (const rule of rules) {
      if (typeof rule.path !== 'string') continue;
      const key = `${rule.method} ${rule.path}`;
      if (!exact.has(key)) exact.set(key, rule);
    }
    return [protocol, { exact, patterns: rules.filter((rule) => typeof rule.path !== 'string') }];
  }),
) as Record<WireProtocol, { exact: Map<string, Rule>; patterns: Rule[] }>;

/** Whether a vault `operations` entry (`files`, or `POST batches`) covers this call: that path or below it. */
function widens(entry: string, method: string, path: string): boolean {
  const [first, second] = entry.trim().split(/\s+/);
  const [entryMethod, entryPath] = second === undefined ? [undefined, first!] : [first!.toUpperCase(), second];
  const base = entryPath.replace(/^\/+|\/+$/g, '');
  return (entryMethod === undefined || entryMethod === method) && base !== '' && (path === base || path.startsWith(`${base}/`));
}

/**
 * The operation a call names, from the provider protocol's table or the vault provider's own
 * `operations`; a 404 `operation_not_supported` for anything else, before anything is sent.
 */
export function findOperation(provider: Provider, method: string, path: string): Operation {
  if (!SAFE_OPERATION.test(path)) {
    throw new GatewayError(400, 'the operation path contains characters or segments the gateway does not forward', 'invalid_path');
  }
  const table = TABLES[wireProtocol(provider.protocol)];
  const exact = table.exact.get(`${method} ${path}`);
  if (exact) return { path, kind: exact.kind, model: exact.model, schema: exact.schema };
  for (const rule of table.patterns) {
    if (rule.method !== method) continue;
    const match = (rule.path as RegExp).exec(path);
    if (match) return { path, kind: rule.kind, model: rule.model, pathModel: rule.model === 'path' ? match[1] : undefined, schema: rule.schema };
  }
  if (provider.operations?.some((entry) => widens(entry, method, path))) return { path, kind: 'other', model: 'unknown' };
  throw new GatewayError(404, `${method} ${path} is not an operation this gateway forwards`, 'operation_not_supported');
}

const decoder = new TextDecoder();

/** A JSON object body checked against a schema: a 400 naming the problem otherwise. */
export function parseJson(body: ArrayBuffer, schema: z.ZodType<Record<string, unknown>>): Record<string, unknown> {
  if (body.byteLength === 0) throw new GatewayError(400, 'request body is empty: a JSON body is required', 'invalid_body');
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(body));
  } catch {
    throw new GatewayError(400, 'request body is not valid JSON', 'invalid_json');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new GatewayError(400, 'request body must be a JSON object', 'invalid_body');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new GatewayError(400, describeIssues(parsed.error), 'invalid_body');
  return json as Record<string, unknown>;
}

/**
 * A unified route's JSON body: chat and embedding bodies are read as JSON whatever their content type
 * says; other operations' form bodies are not JSON (undefined).
 */
export function parseJsonBody(operation: Pick<Operation, 'kind' | 'schema'>, body: ArrayBuffer, contentType: string | undefined) {
  if (!operation.schema || (operation.kind === 'other' && (body.byteLength === 0 || isForm(contentType)))) return undefined;
  return parseJson(body, operation.schema);
}

const FORM_BODY = /^\s*(?:multipart\/form-data|application\/x-www-form-urlencoded)/i;
const MULTIPART = /^\s*multipart\/form-data/i;

export const isForm = (contentType: string | undefined) => FORM_BODY.test(contentType ?? '');
export const isMultipart = (contentType: string | undefined) => MULTIPART.test(contentType ?? '');
