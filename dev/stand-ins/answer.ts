import type { ServerResponse } from 'node:http';
import type { Fault } from './faults';

// The shape every dialect answers with, and how it goes on the wire (faults applied here, once).

export interface StreamEvent {
  /** SSE `event:` name (Anthropic); omitted for `data:`-only streams. */
  event?: string;
  data: string;
}

export type Answer =
  | { kind: 'json'; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'bytes'; status: number; body: Buffer | string; headers: Record<string, string> }
  /** `sse`: `data:` lines ended by LF; `sse-crlf`: Google's CRLF framing; `json-array`: Gemini without `alt=sse`. */
  | { kind: 'stream'; format: 'sse' | 'sse-crlf' | 'json-array'; events: StreamEvent[]; headers?: Record<string, string> };

/** A request as a dialect sees it. */
export interface Incoming {
  method: string;
  /** Path after the dialect's API base, e.g. `chat/completions`, `models/gemini-2.0-flash:generateContent`. */
  operation: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: string;
  bytes: Buffer;
  /** The parsed JSON body, when the body is JSON. */
  json?: Record<string, unknown>;
  /** The stand-in's origin, for URLs in answers (image `url`). */
  origin: string;
}

export interface ErrorOptions {
  message?: string;
  retryAfter?: number;
  /** The model the request named, for messages that name it as the provider does. */
  model?: string;
}

export interface Dialect {
  /** The provider key the request carries, or undefined when it carries none. */
  keyOf(req: Incoming): string | undefined;
  /** The answer to a missing or unknown/revoked key, exactly as the provider sends it. */
  authError(kind: 'missing' | 'invalid'): Answer;
  /** The provider's error body for a status. */
  error(status: number, options?: ErrorOptions): Answer;
  /** A refusal that comes after authentication and before any fault (a missing required header). */
  reject?(req: Incoming): Answer | undefined;
  /** The model a request names (body or path). */
  modelOf(req: Incoming): string | undefined;
  handle(req: Incoming): Answer;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves once the chunk is handed to the socket, so a reset right after it cannot swallow it. */
const write = (res: ServerResponse, chunk: string | Buffer) =>
  new Promise<void>((resolve) => {
    res.write(chunk, () => resolve());
  });

const cut = (text: string) => text.slice(0, Math.max(1, Math.floor(text.length / 2)));

function frame(format: 'sse' | 'sse-crlf' | 'json-array', event: StreamEvent, index: number): string {
  if (format === 'json-array') return `${index === 0 ? '[' : ',\r\n'}${event.data}`;
  const eol = format === 'sse-crlf' ? '\r\n' : '\n';
  return `${event.event ? `event: ${event.event}${eol}` : ''}data: ${event.data}${eol}${eol}`;
}

const STREAM_TYPES = { sse: 'text/event-stream; charset=utf-8', 'sse-crlf': 'text/event-stream', 'json-array': 'application/json; charset=UTF-8' };

/** Write an answer, with the effects of a fault (delay, reset, invalid JSON) and `paceMs` between stream events. */
export async function send(res: ServerResponse, answer: Answer, fault: Fault | undefined, paceMs: number): Promise<void> {
  if (fault?.delayFirstByteMs) await sleep(fault.delayFirstByteMs);
  if (res.destroyed) return;

  if (answer.kind !== 'stream') {
    let body = answer.kind === 'json' ? JSON.stringify(answer.body) : answer.body;
    const contentType = answer.kind === 'json' ? 'application/json' : undefined;
    if (fault?.invalidJson) body = cut(body.toString());
    const bytes = Buffer.from(body);
    res.writeHead(fault?.invalidJson ? 200 : answer.status, {
      ...(contentType ? { 'content-type': contentType } : {}),
      ...answer.headers,
      'content-length': String(bytes.length),
    });
    if (fault?.resetAfterChunks !== undefined) {
      await write(res, bytes.subarray(0, Math.floor(bytes.length / 2)));
      res.destroy();
      return;
    }
    res.end(bytes);
    return;
  }

  const events =
    fault?.invalidJson && answer.events[0] ? [{ ...answer.events[0], data: cut(answer.events[0].data) }, ...answer.events.slice(1)] : answer.events;
  res.writeHead(200, { 'content-type': STREAM_TYPES[answer.format], 'cache-control': 'no-cache', ...answer.headers });
  res.flushHeaders();
  const limit = fault?.resetAfterChunks;
  for (const [index, event] of events.entries()) {
    if (limit !== undefined && index >= limit) break;
    if (index > 0 && paceMs > 0) await sleep(paceMs);
    if (res.destroyed) return;
    await write(res, frame(answer.format, event, index));
  }
  if (limit !== undefined) {
    res.destroy();
    return;
  }
  res.end(answer.format === 'json-array' ? ']' : undefined);
}
