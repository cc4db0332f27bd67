import { vi } from 'vitest';

/** One request the gateway sent upstream, as it went out. */
export interface UpstreamCall {
  /** The URL exactly as passed to fetch (a string is recorded untouched, not re-parsed). */
  url: string;
  method: string;
  headers: Headers;
  body: Uint8Array;
  text(): string;
  json(): any;
}

export type UpstreamHandler = (call: UpstreamCall, index: number) => Response | Promise<Response>;

async function record(input: RequestInfo | URL, init?: RequestInit): Promise<UpstreamCall> {
  const request = input instanceof Request ? input : undefined;
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
  const headers = new Headers(init?.headers ?? request?.headers);
  const source = init?.body ?? (request ? await request.clone().arrayBuffer() : null);
  const body = new Uint8Array(source === null || source === undefined ? new ArrayBuffer(0) : await new Response(source).arrayBuffer());
  return {
    url,
    method,
    headers,
    body,
    text: () => new TextDecoder().decode(body),
    json: () => JSON.parse(new TextDecoder().decode(body)),
  };
}

/**
 * Replace the global fetch with a stand-in upstream: every call is recorded (URL, method, headers,
 * body) and answered by `handler`. Restored by `vi.restoreAllMocks()`.
 */
export function mockUpstream(handler: UpstreamHandler) {
  const calls: UpstreamCall[] = [];
  const spy = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const call = await record(input, init);
    calls.push(call);
    return handler(call, calls.length - 1);
  });
  return { calls, spy };
}

/** A fetch that must not be called: any call fails the test's assertions through `calls`. */
export function forbidUpstream() {
  return mockUpstream(() => {
    throw new Error('the gateway must not call upstream here');
  });
}
