import * as z from 'zod';
import { GatewayError } from '../errors';
import { describeIssues } from '../vault/schema';
import { ModelField } from '../protocols/pivot/model';

// What an operation path means, and the zod schema of the JSON body each kind of operation takes.

/** Plain path segments only: no `.`/`..`, no percent-escapes, no empty segments. */
const SAFE_OPERATION = /^(?:[A-Za-z0-9_\-:]+(?:\.[A-Za-z0-9_\-:]+)*)(?:\/[A-Za-z0-9_\-:]+(?:\.[A-Za-z0-9_\-:]+)*)*$/;

const GEMINI_MODEL_CALL = /^models\/([^/:]+):(generateContent|streamGenerateContent|embedContent|batchEmbedContents|countTokens)$/;

export type OperationKind = 'chat' | 'embedding' | 'other';

export interface Operation {
  path: string;
  kind: OperationKind;
  /** Model named in the path (Gemini `models/{model}:method`). */
  pathModel?: string;
  /** The JSON body's schema, for operations that take JSON. */
  schema?: z.ZodType<Record<string, unknown>>;
}

const ChatCompletionsBody = z.looseObject({
  model: ModelField,
  messages: z.array(z.unknown(), { error: 'field "messages" is required (an array of messages)' }).min(1, 'field "messages" must not be empty'),
});
const CompletionsBody = z.looseObject({ model: ModelField });
const EmbeddingsBody = z.looseObject({
  model: ModelField,
  input: z.unknown().refine((input) => input !== undefined && input !== null, 'field "input" is required'),
});
const MessagesBody = ChatCompletionsBody;
const GeminiBody = z.looseObject({});
const OptionalModelBody = z.looseObject({ model: ModelField.optional() });

export function parseOperation(path: string): Operation {
  if (!SAFE_OPERATION.test(path)) {
    throw new GatewayError(400, 'the operation path contains characters or segments the gateway does not forward', 'invalid_path');
  }
  const gemini = GEMINI_MODEL_CALL.exec(path);
  if (gemini) {
    const kind: OperationKind = gemini[2]!.toLowerCase().includes('embed') ? 'embedding' : 'chat';
    return { path, kind, pathModel: gemini[1], schema: GeminiBody };
  }
  if (path.endsWith('chat/completions')) return { path, kind: 'chat', schema: ChatCompletionsBody };
  if (path === 'completions') return { path, kind: 'chat', schema: CompletionsBody };
  if (path.endsWith('embeddings')) return { path, kind: 'embedding', schema: EmbeddingsBody };
  if (path === 'messages') return { path, kind: 'chat', schema: MessagesBody };
  if (path === 'audio/transcriptions' || path === 'audio/translations') return { path, kind: 'other' };
  return { path, kind: 'other', schema: OptionalModelBody };
}

const FORM_BODY = /^\s*(?:multipart\/form-data|application\/x-www-form-urlencoded)/i;

/**
 * Parse and validate a JSON body for an operation. Chat and embedding bodies are read as JSON whatever
 * their content type says: providers parse them as JSON, so the model checks must see the model they
 * see. Other operations' form uploads and non-JSON bodies are left untouched.
 */
export function parseJsonBody(operation: Operation, body: ArrayBuffer, contentType: string | undefined) {
  if (body.byteLength === 0) {
    if (operation.kind !== 'other') throw new GatewayError(400, 'request body is empty: a JSON body is required', 'invalid_body');
    return undefined;
  }
  if (!operation.schema || (operation.kind === 'other' && FORM_BODY.test(contentType ?? ''))) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(body));
  } catch {
    if (operation.kind === 'other' && contentType !== undefined && !contentType.includes('json')) return undefined;
    throw new GatewayError(400, 'request body is not valid JSON', 'invalid_json');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new GatewayError(400, 'request body must be a JSON object', 'invalid_body');
  }
  const parsed = operation.schema.safeParse(json);
  if (!parsed.success) throw new GatewayError(400, describeIssues(parsed.error), 'invalid_body');
  return json as Record<string, unknown>;
}

/** The `model` field of a multipart upload (audio transcriptions, image edits): allow-lists cover uploads too. */
export async function formModel(body: ArrayBuffer, contentType: string | undefined): Promise<string | undefined> {
  if (!contentType || !/^\s*multipart\/form-data/i.test(contentType)) return undefined;
  const form = await new Response(body, { headers: { 'content-type': contentType } }).formData().catch(() => undefined);
  const model = form?.get('model');
  return typeof model === 'string' ? model : undefined;
}
