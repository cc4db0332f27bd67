import { createParser } from 'eventsource-parser';

// Whether a recorded 2xx answer is a whole answer worth replaying. A stream that ended early (the
// upstream closed the connection, or the gateway ended it with an error event after a failure)
// reads as a normal end to the client, so its own last events have to say it finished.

/** A complete answer: a stream with its protocol's end marker and no error event, or whole JSON. */
export function isCompleteAnswer(contentType: string, bytes: Uint8Array): boolean {
  const text = new TextDecoder().decode(bytes);
  if (contentType.includes('text/event-stream')) return isCompleteStream(text);
  if (contentType.includes('json')) return parses(text);
  return true;
}

function isCompleteStream(text: string): boolean {
  let finished = false;
  let failed = false;
  const parser = createParser({
    onEvent(event) {
      if (event.event === 'error') failed = true;
      if (event.data === '[DONE]') {
        finished = true;
        return;
      }
      const data = parseJson(event.data);
      if (data === undefined || 'error' in data || data.type === 'error') failed = true;
      else if (data.type === 'message_stop' || hasFinishReason(data)) finished = true;
    },
  });
  parser.feed(text);
  return finished && !failed;
}

/** A Gemini chunk that carries a candidate's finishReason is the stream's last (alt=sse has no [DONE]). */
function hasFinishReason(data: Record<string, unknown>): boolean {
  const candidates = data.candidates;
  return (
    Array.isArray(candidates) && candidates.some((c) => typeof c === 'object' && c !== null && typeof c.finishReason === 'string' && c.finishReason !== '')
  );
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
