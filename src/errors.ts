import type { ContentfulStatusCode } from 'hono/utils/http-status';

// The one error shape (OpenAI's): {"error":{"message","type","code"}}; Anthropic-dialect routes
// (`/v1/messages`) set `errorDialect` and get Anthropic's {"type":"error","error":{"type","message"}}.

/** Who reads an error: OpenAI-shaped clients (the default) or Anthropic-shaped ones. */
export type ErrorDialect = 'openai' | 'anthropic';

const DEFAULTS: Record<number, { type: string; code: string }> = {
  400: { type: 'invalid_request_error', code: 'bad_request' },
  401: { type: 'authentication_error', code: 'invalid_api_key' },
  403: { type: 'permission_error', code: 'forbidden' },
  404: { type: 'not_found_error', code: 'not_found' },
  405: { type: 'invalid_request_error', code: 'method_not_allowed' },
  413: { type: 'invalid_request_error', code: 'request_too_large' },
  429: { type: 'rate_limit_error', code: 'rate_limited' },
  500: { type: 'api_error', code: 'internal_error' },
  501: { type: 'api_error', code: 'not_implemented' },
  502: { type: 'upstream_error', code: 'bad_gateway' },
  503: { type: 'api_error', code: 'service_unavailable' },
  504: { type: 'timeout_error', code: 'upstream_timeout' },
};

export class GatewayError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
    readonly code?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

const ANTHROPIC_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/** The HTTP status an Anthropic error type stands for (an `error` event in a stream has none). */
export function anthropicErrorStatus(type: string): number {
  if (type === 'api_error') return 500;
  const entry = Object.entries(ANTHROPIC_TYPES).find(([, name]) => name === type);
  return entry ? Number(entry[0]) : 502;
}

/** The error body of a dialect, also used for error events inside a stream. */
export function errorBody(status: number, message: string, code?: string, dialect: ErrorDialect = 'openai') {
  if (dialect === 'anthropic') {
    const type = ANTHROPIC_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
    return { type: 'error', error: { type, message } };
  }
  const fallback = DEFAULTS[status] ?? DEFAULTS[status >= 500 ? 500 : 400]!;
  return { error: { message, type: fallback.type, code: code ?? fallback.code } };
}

export function errorResponse(
  status: ContentfulStatusCode,
  message: string,
  code?: string,
  headers: Record<string, string> = {},
  dialect: ErrorDialect = 'openai',
): Response {
  return new Response(JSON.stringify(errorBody(status, message, code, dialect)), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}
