// Turning a failed request into a sentence a person can act on.

/** A failure whose message is ready to show as it is. */
export class ShownError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ShownError';
  }
}

/** The `error.message` of a JSON error body (OpenAI, Anthropic, Gemini and this gateway all use it), else the text. */
export async function errorDetail(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const json = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const message = typeof json.error === 'string' ? json.error : (json.error?.message ?? json.message);
    if (typeof message === 'string' && message) return message;
  } catch {
    // Not JSON: fall back to the text itself.
  }
  return text.trim().slice(0, 300) || res.statusText || 'no details given';
}

const withoutFinalPeriod = (text: string) => text.replace(/\.$/, '');

/** What a gateway error status means for the person at the keyboard. */
export async function gatewayFailure(res: Response): Promise<ShownError> {
  const detail = withoutFinalPeriod(await errorDetail(res));
  const retryAfter = res.headers.get('retry-after');
  const sentence: Record<number, string> = {
    400: `The gateway could not accept this request: ${detail}.`,
    401: `The gateway did not accept this key (${detail}). Check the key and try again.`,
    403: `This key is not allowed to do that: ${detail}.`,
    404: `Not found: ${detail}.`,
    413: `The request is too large: ${detail}.`,
    422: `The gateway refused it: ${detail}.`,
    429: `Too many requests${retryAfter ? `: wait ${retryAfter} seconds and try again` : ', wait a little and try again'} (${detail}).`,
    502: `The provider failed to answer (${detail}). Try again, or choose another model.`,
    503: `The gateway cannot serve this right now: ${detail}.`,
    504: `The provider took too long to answer (${detail}). Try again, or choose another model.`,
  };
  return new ShownError(sentence[res.status] ?? `The gateway answered with status ${res.status}: ${detail}.`, res.status);
}

/** Any thrown value as a sentence: a lost connection gets its own explanation. */
export function describeError(err: unknown): string {
  if (err instanceof ShownError) return err.message;
  if (err instanceof TypeError) return 'Could not reach the gateway: check that it is running and that you are online.';
  return err instanceof Error ? err.message : String(err);
}
