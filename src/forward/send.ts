import type { Bindings } from '../env';
import { logEvent } from '../log';
import { GatewayError } from '../middleware/errors';
import type { Provider } from '../vault/schema';
import { downstreamHeaders, upstreamHeaders } from './headers';
import { keyRotation } from './keys';
import { buildTarget } from './target';

export interface ForwardRequest {
  providerId: string;
  provider: Provider;
  operation: string;
  search: string;
  method: string;
  incoming: Headers;
  /** The request body, read once. */
  body: ArrayBuffer | null;
  /** The parsed JSON body, when the body is JSON: only re-serialised when the model must be renamed. */
  json?: Record<string, unknown>;
  model?: string;
  env: Bindings;
  requestId?: string;
  signal?: AbortSignal;
}

/** Forward one request upstream and hand the answer back as it arrives (status, headers, streamed body). */
export async function forward(req: ForwardRequest): Promise<Response> {
  const [key] = keyRotation(req.providerId, req.provider.keys);
  if (!key) {
    throw new GatewayError(503, `provider "${req.providerId}" has no usable key (all are expired or marked expired)`, 'no_usable_key');
  }
  const target = buildTarget({ ...req, key: key.key });
  const body = target.model && req.json ? JSON.stringify({ ...req.json, model: target.model }) : req.body;
  let upstream: Response;
  try {
    upstream = await fetch(target.url, {
      method: req.method,
      headers: upstreamHeaders(req.incoming, target.headers),
      body,
      signal: req.signal,
    });
  } catch (err) {
    logEvent(req.env, 'error', {
      requestId: req.requestId,
      provider: req.providerId,
      event: 'upstream_unreachable',
      via: target.via,
      reason: err instanceof Error ? err.name : 'unknown',
    });
    throw new GatewayError(502, `provider "${req.providerId}" could not be reached`, 'upstream_unreachable');
  }
  logEvent(req.env, 'debug', { requestId: req.requestId, provider: req.providerId, via: target.via, status: upstream.status });
  return new Response(upstream.body, { status: upstream.status, headers: downstreamHeaders(upstream.headers) });
}
