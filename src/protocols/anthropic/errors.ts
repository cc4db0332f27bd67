import type { ErrorDialect } from '../../errors';

// Anthropic's error shape, {"type":"error","error":{"type","message"}}, for the clients of
// `/v1/messages` and for the error event that ends an Anthropic stream.

const TYPES: Record<number, string> = {
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
  const entry = Object.entries(TYPES).find(([, name]) => name === type);
  return entry ? Number(entry[0]) : 502;
}

export const anthropicErrors: ErrorDialect = {
  body(status, message) {
    const type = TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
    return { type: 'error', error: { type, message } };
  },
  streamFrame: (status, message) => `event: error\ndata: ${JSON.stringify(anthropicErrors.body(status, message))}\n\n`,
};
