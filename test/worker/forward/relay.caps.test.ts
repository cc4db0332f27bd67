import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { MAX_ERROR_BODY_BYTES, MAX_SSE_EVENT_BYTES } from '../../../src/forward/relay';
import { MAX_TRANSLATED_JSON_BYTES } from '../../../src/unified/upstream';
import { postJson } from '../helpers/env';
import { CHAT, chunk, faultyUpstream, freshKeys, multiKeyEnv, readAll, sseEvents, sseResponse } from '../helpers/upstreams';

// What the gateway holds of an upstream body is capped: an SSE event that never ends, an error
// answer, a JSON answer to translate. Each upstream body here is endless (or far over the cap) and
// produced only as it is read, so the count of chunks read shows the gateway stopped at the cap.

afterEach(() => vi.restoreAllMocks());

const MiB = 1024 * 1024;
const encoder = new TextEncoder();

/** A body of `head`, then `filler` repeated in chunks of `chunkBytes`, produced on demand; never ends. */
function endlessBody(head: string, chunkBytes: number, filler = 0x61) {
  let chunks = 0;
  const filled = new Uint8Array(chunkBytes).fill(filler);
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        controller.enqueue(chunks === 0 ? encoder.encode(head) : filled.slice());
        chunks++;
      },
    },
    { highWaterMark: 0 },
  );
  return { body, bytesRead: () => (chunks === 0 ? 0 : head.length + (chunks - 1) * chunkBytes) };
}

describe('an SSE event that never ends', () => {
  it('mid-stream: the client gets the events before it and one error event; the upstream is stopped near the cap', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 1) });
    const upstream = endlessBody(`${chunk('before')}data: {"choices":[{"delta":{"content":"`, MiB);
    const calls = faultyUpstream(() => sseResponse(upstream.body));
    const res = await app.request('/groq/v1/chat/completions', postJson({ ...CHAT, stream: true }), env);
    expect(res.status).toBe(200);
    const text = await readAll(res);
    const events = sseEvents(text);
    expect(text.startsWith(chunk('before'))).toBe(true);
    expect(events).toHaveLength(2);
    expect(events[1]!.data).toMatchObject({ error: { code: 'upstream_too_large' } });
    expect(JSON.stringify(events[1]!.data)).toContain('16 MiB');
    expect(upstream.bytesRead()).toBeLessThanOrEqual(MAX_SSE_EVENT_BYTES + 2 * MiB);
    expect(calls[0]!.signal?.aborted).toBe(true);
  });

  it('as the first event: a 502 upstream_too_large, and no other key is tried or rested for it', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2) });
    const upstream = endlessBody('data: {"choices":[{"delta":{"content":"', MiB);
    const calls = faultyUpstream(() => sseResponse(upstream.body));
    const res = await app.request('/groq/v1/chat/completions', postJson({ ...CHAT, stream: true }), env);
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: { code: 'upstream_too_large' } });
    expect(calls).toHaveLength(1);
    expect(upstream.bytesRead()).toBeLessThanOrEqual(MAX_SSE_EVENT_BYTES + 2 * MiB);
  });
});

describe('an upstream error answer', () => {
  it('is read up to 64 KiB: the client still gets the error, and the rest is never read', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 1) });
    const upstream = endlessBody('upstream trouble: ', 16 * 1024, 0x20);
    faultyUpstream(() => new Response(upstream.body, { status: 400, headers: { 'content-type': 'text/plain' } }));
    const res = await app.request('/groq/v1/chat/completions', postJson(CHAT), env);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'upstream_error', message: expect.stringContaining('upstream trouble') } });
    expect(upstream.bytesRead()).toBeLessThanOrEqual(MAX_ERROR_BODY_BYTES + 16 * 1024);
  });
});

describe('a JSON answer to translate', () => {
  it('over 32 MiB is a 502 upstream_too_large, not an isolate out of memory', async () => {
    const env = await multiKeyEnv({ anthropic: freshKeys('sk-ant', 1) });
    const upstream = endlessBody('{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"', 4 * MiB);
    faultyUpstream(() => new Response(upstream.body, { status: 200, headers: { 'content-type': 'application/json' } }));
    const res = await app.request('/v1/chat/completions', postJson({ ...CHAT, model: 'anthropic/claude-sonnet-4-5' }), env);
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: { code: 'upstream_too_large', message: expect.stringContaining('32 MiB') } });
    expect(upstream.bytesRead()).toBeLessThanOrEqual(MAX_TRANSLATED_JSON_BYTES + 8 * MiB);
  });
});
