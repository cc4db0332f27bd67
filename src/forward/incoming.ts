import { GatewayError } from '../errors';
import { isMultipart, type Operation, parseJson } from './operation';

// A client's request for a proxied operation, read once: the body to forward, its content type, and
// the model it names, or why that model cannot be read with certainty.

export interface IncomingCall {
  body: ArrayBuffer | null;
  /** The parsed JSON body, when the operation takes JSON. */
  json?: Record<string, unknown>;
  /** Form parts of a multipart upload. */
  form?: FormData;
  /** The content type the body goes upstream with. */
  contentType?: string;
  /** The model the request names, as the gateway read it. */
  model?: string;
  /** Why the model cannot be read with certainty (refused for a user with a `models` allow-list). */
  uncertain?: string;
}

async function multipart(body: ArrayBuffer, contentType: string): Promise<IncomingCall> {
  const form = await new Response(body, { headers: { 'content-type': contentType } }).formData().catch(() => undefined);
  if (!form) return { body, contentType, uncertain: 'the multipart body cannot be read' };
  const models = form.getAll('model');
  if (models.length > 1) return { body, contentType, form, uncertain: 'the upload names several models (several "model" parts)' };
  const [model] = models;
  if (model !== undefined && typeof model !== 'string') return { body, contentType, form, uncertain: 'the "model" part is a file' };
  return { body, contentType, form, model };
}

/** Read the client's request as the operation takes it (JSON, an upload, or bytes the gateway does not read). */
export async function readIncoming(operation: Operation, request: Request): Promise<IncomingCall> {
  if (request.method === 'GET' || request.method === 'HEAD') {
    return {
      body: null,
      model: operation.pathModel,
      uncertain: operation.model === 'unknown' ? 'the gateway does not read the model of this operation' : undefined,
    };
  }
  const body = await request.arrayBuffer();
  const contentType = request.headers.get('content-type') ?? undefined;
  if (operation.model === 'unknown') {
    return { body, contentType, uncertain: 'the gateway does not read the model of this operation' };
  }
  if (operation.model === 'form' && !/json/i.test(contentType ?? '')) {
    if (isMultipart(contentType)) return multipart(body, contentType!);
    return { body, contentType, uncertain: 'an upload must be multipart/form-data (or JSON) for the gateway to read its model' };
  }
  // JSON whatever the content type says, and sent as JSON: the provider reads the model the gateway read.
  const json = parseJson(body, operation.schema!);
  const named = json.model;
  if (named !== undefined && typeof named !== 'string') throw new GatewayError(400, 'field "model" must be a string', 'invalid_body');
  return { body, json, contentType: 'application/json', model: operation.pathModel ?? named };
}

/**
 * The body exactly as the gateway read it: JSON re-serialised (a duplicated `model` key keeps only the
 * value checked), an upload re-encoded from its parsed parts. For users with a `models` allow-list.
 */
export async function asRead(call: IncomingCall): Promise<IncomingCall> {
  if (call.json) return { ...call, body: new TextEncoder().encode(JSON.stringify(call.json)).buffer as ArrayBuffer };
  if (!call.form) return call;
  const encoded = new Response(call.form);
  return { ...call, body: await encoded.arrayBuffer(), contentType: encoded.headers.get('content-type') ?? undefined };
}
