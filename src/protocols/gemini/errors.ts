import type { ErrorDialect } from '../../errors';

// Google's error shape, {"error":{"code","message","status"}}, for the clients of the Gemini-protocol
// door (/v1beta/models/…). A stream ends with the same object as its last `data:` event, as Gemini's do.

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  412: 'FAILED_PRECONDITION',
  413: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'UNIMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const statusName = (status: number) => STATUS_NAMES[status] ?? (status >= 500 ? 'UNAVAILABLE' : 'INVALID_ARGUMENT');

export const geminiErrors: ErrorDialect = {
  body: (status, message) => ({ error: { code: status, message, status: statusName(status) } }),
  streamFrame: (status, message) => `data: ${JSON.stringify(geminiErrors.body(status, message))}\r\n\r\n`,
};
