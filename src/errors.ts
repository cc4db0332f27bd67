import type { ContentfulStatusCode } from 'hono/utils/http-status';

// The ground floor's error shape is OpenAI's: {"error":{"message","type","code"}}. A route whose
// clients read another shape sets `errorDialect` (Anthropic's lives in src/protocols/anthropic/errors.ts),
// so this file knows no protocol.

/** How one family of clients reads an error: the JSON body, and the SSE frame that ends a stream. */
export interface ErrorDialect {
  body(status: number, message: string, code?: string): unknown;
  streamFrame(status: number, message: string, code?: string): string;
}

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

/** OpenAI's error shape, the default: also how OpenAI-protocol streams carry an error event. */
export const openaiErrors: ErrorDialect = {
  body(status, message, code) {
    const fallback = DEFAULTS[status] ?? DEFAULTS[status >= 500 ? 500 : 400]!;
    return { error: { message, type: fallback.type, code: code ?? fallback.code } };
  },
  streamFrame: (status, message, code) => `data: ${JSON.stringify(openaiErrors.body(status, message, code))}\n\n`,
};

/** The error body of a dialect. */
export function errorBody(status: number, message: string, code?: string, dialect: ErrorDialect = openaiErrors) {
  return dialect.body(status, message, code);
}

export function errorResponse(
  status: ContentfulStatusCode,
  message: string,
  code?: string,
  headers: Record<string, string> = {},
  dialect: ErrorDialect = openaiErrors,
): Response {
  return new Response(JSON.stringify(errorBody(status, message, code, dialect)), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}
