import { vi } from 'vitest';
import type { Bindings } from '../../../src/env';
import { makeEnv } from './env';

// Fault injection for the worker tests: vaults with several keys per provider, and upstream answers
// (JSON, SSE streams that fail, stall or hang) built the way the real providers send them.

let serial = 0;

/** Keys unique to one test: the per-isolate key rests and round-robin cursors never leak between tests. */
export function freshKeys(prefix: string, count: number): string[] {
  const run = `${Date.now().toString(36)}${serial++}`;
  return Array.from({ length: count }, (_, i) => `${prefix}-${run}-k${i + 1}`);
}

/** An env whose vault has an OpenAI-compatible `groq` and an `anthropic` provider with these keys. */
export async function multiKeyEnv(options: { groq?: string[]; anthropic?: string[]; vars?: Partial<Bindings>; expired?: string[] }) {
  const keys = (list: string[] = []) => [...list.map((key) => ({ key, type: 'paid' })), ...(options.expired ?? []).map((key) => ({ key, type: 'expired' }))];
  return makeEnv({
    config: {
      version: 1,
      providers: {
        groq: {
          protocol: 'openai',
          endpoint: 'https://api.groq.com/openai/v1',
          keys: keys(options.groq),
          models: [
            { id: 'llama-3.3-70b-versatile', usage: 'chat' },
            { id: 'nomic-embed-text', usage: 'embedding' },
          ],
        },
        anthropic: {
          protocol: 'anthropic',
          endpoint: 'https://api.anthropic.com/v1',
          keys: keys(options.anthropic),
          models: [{ id: 'claude-sonnet-4-5', usage: 'chat' }],
        },
      },
    },
    vars: options.vars,
  });
}

export interface UpstreamCall {
  url: string;
  headers: Headers;
  body: Uint8Array;
  /** The signal the gateway gave fetch: aborted when it gives up on the call. */
  signal?: AbortSignal;
  key?: string;
}

/**
 * Replace fetch with a fault-injecting upstream: each call is recorded (URL, headers, exact body bytes,
 * the abort signal, the provider key) and answered by `handler`. Restored by `vi.restoreAllMocks()`.
 */
export function faultyUpstream(handler: (call: UpstreamCall, index: number) => Response | Promise<Response>) {
  const calls: UpstreamCall[] = [];
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers);
    const body = new Uint8Array(init?.body == null ? new ArrayBuffer(0) : await new Response(init.body).arrayBuffer());
    const call: UpstreamCall = { url, headers, body, signal: init?.signal ?? undefined };
    call.key = keyOf(call);
    calls.push(call);
    return handler(call, calls.length - 1);
  });
  return calls;
}

/** The provider key an upstream call carried. */
export const keyOf = (call: Pick<UpstreamCall, 'headers'>) =>
  call.headers.get('x-api-key') ?? call.headers.get('authorization')?.replace(/^Bearer /, '') ?? undefined;

export const CHAT = { model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'Hello' }] };
export const MESSAGES = { model: 'claude-sonnet-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] };

export function completion(text = 'Hi there') {
  return {
    id: 'chatcmpl-standin',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'llama-3.3-70b-versatile',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  };
}

/** OpenAI's error body for a status, with the headers a provider sends along. */
export function openaiError(status: number, headers: Record<string, string> = {}, message = 'The server had an error') {
  return Response.json({ error: { message, type: status === 429 ? 'requests' : 'server_error', code: null } }, { status, headers });
}

export const chunk = (content: string, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-s', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: null }], ...extra })}\n\n`;

/**
 * An SSE body the test drives, served in order as the gateway pulls: `send` queues text, `fail` queues
 * a broken connection (the read rejects once what was sent before is read), `end` closes it;
 * `cancelled` resolves when the gateway cancels it.
 */
export function controlledStream() {
  const queue: (Uint8Array | Error | null)[] = [];
  let wake: (() => void) | undefined;
  let onCancel!: () => void;
  const cancelled = new Promise<void>((resolve) => (onCancel = resolve));
  const push = (item: Uint8Array | Error | null) => {
    queue.push(item);
    wake?.();
  };
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        const item = queue.shift()!;
        if (item === null) controller.close();
        else if (item instanceof Error) controller.error(item);
        else controller.enqueue(item);
      },
      cancel: () => onCancel(),
    },
    { highWaterMark: 0 },
  );
  const encoder = new TextEncoder();
  return {
    body,
    send: (text: string) => push(encoder.encode(text)),
    fail: () => push(new TypeError('Network connection lost.')),
    end: () => push(null),
    cancelled,
  };
}

export const sseResponse = (body: ReadableStream<Uint8Array> | string, headers: Record<string, string> = {}) =>
  new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream', ...headers } });

/** A fetch answer that never comes: it rejects only when the gateway aborts the request. */
export function hang(signal: AbortSignal | null | undefined): Promise<Response> {
  return new Promise((_, reject) => {
    signal?.addEventListener('abort', () => reject(signal.reason instanceof Error ? signal.reason : new DOMException('aborted', 'AbortError')));
  });
}

/** Everything a client reads from a body, as text. */
export async function readAll(res: Response): Promise<string> {
  return new TextDecoder().decode(await res.arrayBuffer());
}

/** The JSON payloads of the `data:` lines of an SSE text (all must parse), with their event names. */
export function sseEvents(text: string): { event?: string; data: unknown }[] {
  return text
    .split(/\n\n/)
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      return { event, data: data === '[DONE]' ? data : JSON.parse(data) };
    });
}
