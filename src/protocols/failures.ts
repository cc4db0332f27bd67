import { anthropicErrorStatus } from './anthropic/errors';
import type { Failure } from './pivot/chat';

// Upstream errors read into a status and the provider's message, whatever the protocol: OpenAI
// `{"error":{"message","type","code"}}`, Anthropic `{"type":"error","error":{"type","message"}}`,
// Gemini `{"error":{"code","message","status"}}` (sometimes wrapped in an array).

type ErrorObject = { message?: unknown; type?: unknown; code?: unknown };

function errorObjectOf(data: unknown): ErrorObject | undefined {
  const body = Array.isArray(data) ? data[0] : data;
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const error = (body as { error: unknown }).error;
  return typeof error === 'object' && error !== null ? (error as ErrorObject) : { message: error };
}

/** The failure an error body (or an error event's data) describes, or undefined when it is not one. */
export function failureOf(data: unknown, status?: number): Failure | undefined {
  const error = errorObjectOf(data);
  if (!error) return undefined;
  const message = typeof error.message === 'string' && error.message ? error.message : 'the provider reported an error';
  if (status !== undefined) return { status, message };
  if (typeof error.code === 'number' && error.code >= 400 && error.code <= 599) return { status: error.code, message };
  if (typeof error.type === 'string' && (data as { type?: unknown }).type === 'error') {
    return { status: anthropicErrorStatus(error.type), message };
  }
  return { status: 502, message };
}

/** The provider's message in an HTTP error body, or a sentence naming the status. */
export function upstreamErrorMessage(text: string, status: number, providerId: string): string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  const failure = failureOf(data, status);
  return failure ? `${providerId}: ${failure.message}` : `provider "${providerId}" answered HTTP ${status}`;
}

export const unreadable = (protocol: string): Failure => ({
  status: 502,
  message: `the provider sent a ${protocol} stream event the gateway cannot read`,
});

export const truncated: Failure = { status: 502, message: "the provider's stream ended before the answer was complete" };
