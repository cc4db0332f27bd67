import { createExecutionContext, env as testEnv, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { send } from '../../../src/forward/send';
import { loadConfig } from '../../../src/vault/store';
import { postJson } from '../helpers/env';
import {
  CHAT,
  chunk,
  completion,
  controlledStream,
  faultyUpstream,
  freshKeys,
  hang,
  MESSAGES,
  multiKeyEnv,
  readAll,
  sseEvents,
  sseResponse,
} from '../helpers/upstreams';
import { openaiErrors } from '../../../src/errors';

// Streams stay streams: events reach the client as the upstream sends them; an upstream that breaks
// off mid-stream ends the client's stream with one well-formed error event; a client that leaves
// cancels the upstream request.

afterEach(() => vi.restoreAllMocks());

type TestEnv = Awaited<ReturnType<typeof multiKeyEnv>>;
const streamChat = (env: TestEnv, init: RequestInit = {}) => app.request('/groq/v1/chat/completions', { ...postJson({ ...CHAT, stream: true }), ...init }, env);

async function nextText(reader: ReadableStreamDefaultReader<Uint8Array>) {
  const { value } = await reader.read();
  return new TextDecoder().decode(value);
}

describe('streaming relay', () => {
  it('hands each event to the client before the upstream sends the next one', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 1) });
    const upstream = controlledStream();
    faultyUpstream(() => sseResponse(upstream.body));
    upstream.send(chunk('one'));
    const res = await streamChat(env);
    const reader = res.body!.getReader();
    expect(await nextText(reader)).toBe(chunk('one'));
    upstream.send(chunk('two'));
    expect(await nextText(reader)).toBe(chunk('two'));
    upstream.send('data: [DONE]\n\n');
    upstream.end();
    expect(await nextText(reader)).toBe('data: [DONE]\n\n');
    expect((await reader.read()).done).toBe(true);
  });

  it('passes events whole: an event split across upstream chunks goes out once complete', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 1) });
    const upstream = controlledStream();
    faultyUpstream(() => sseResponse(upstream.body));
    const event = chunk('split');
    upstream.send(event.slice(0, 10));
    upstream.send(event.slice(10, -1));
    upstream.send(`\n${chunk('next').slice(0, 5)}`);
    const res = await streamChat(env);
    const reader = res.body!.getReader();
    expect(await nextText(reader)).toBe(event);
    upstream.send(chunk('next').slice(5));
    upstream.end();
    expect(await nextText(reader)).toBe(chunk('next'));
  });

  it('ends a stream broken off mid-way with an OpenAI error event, dropping the half-sent event', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2) });
    const upstream = controlledStream();
    const calls = faultyUpstream(() => sseResponse(upstream.body));
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    upstream.send(chunk('Hel') + chunk('lo'));
    const res = await streamChat(env);
    upstream.send(chunk(' wor').slice(0, 20));
    upstream.fail();
    const text = await readAll(res);
    const events = sseEvents(text);
    expect(events.map((e) => (e.data as any).choices?.[0].delta.content)).toEqual(['Hel', 'lo', undefined]);
    expect(events[2]!.data).toEqual({
      error: { message: 'provider "groq" broke off the stream; the answer is incomplete', type: 'upstream_error', code: 'upstream_stream_failed' },
    });
    expect(text.endsWith('\n\n')).toBe(true);
    expect(calls).toHaveLength(1);
    expect(logged.mock.calls.flat().join('\n')).toMatch(/"event":"stream_failed".*"reason":"upstream_failed"/);
  });

  it("ends a broken Anthropic messages stream with Anthropic's own `event: error`", async () => {
    const env = await multiKeyEnv({ anthropic: freshKeys('sk-ant', 1) });
    const upstream = controlledStream();
    faultyUpstream(() => sseResponse(upstream.body));
    vi.spyOn(console, 'error').mockImplementation(() => {});
    upstream.send('event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[]}}\n\n');
    const res = await app.request('/anthropic/v1/messages', postJson({ ...MESSAGES, stream: true }), env);
    upstream.send('event: ping\ndata: {"type":"ping"}\n\n');
    upstream.fail();
    const events = sseEvents(await readAll(res));
    expect(events.map((e) => e.event)).toEqual(['message_start', 'ping', 'error']);
    expect(events[2]!.data).toMatchObject({ type: 'error', error: { type: 'api_error' } });
  });

  it('writes the error event in the dialect a caller of send() asks for', async () => {
    const env = await multiKeyEnv({ anthropic: freshKeys('sk-ant', 1) });
    const upstream = controlledStream();
    faultyUpstream(() => sseResponse(upstream.body));
    vi.spyOn(console, 'error').mockImplementation(() => {});
    upstream.send('event: ping\ndata: {"type":"ping"}\n\n');
    const config = await loadConfig(env);
    const res = await send({
      providerId: 'anthropic',
      provider: config.providers.anthropic!,
      operation: 'messages',
      search: '',
      method: 'POST',
      incoming: new Headers({ 'content-type': 'application/json' }),
      body: new TextEncoder().encode(JSON.stringify({ ...MESSAGES, stream: true })).buffer as ArrayBuffer,
      env,
      streamErrorDialect: openaiErrors,
    });
    upstream.fail();
    const events = sseEvents(await readAll(res));
    expect(events.at(-1)).toEqual({ event: undefined, data: expect.objectContaining({ error: expect.objectContaining({ code: 'upstream_stream_failed' }) }) });
  });

  it('fails over when the first event of a stream is not JSON (nothing was sent yet)', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2) });
    const calls = faultyUpstream((_, i) =>
      sseResponse(i === 0 ? `${chunk('Hi').slice(0, 30)}\n\n${chunk('x')}data: [DONE]\n\n` : `${chunk('Hi')}data: [DONE]\n\n`),
    );
    const res = await streamChat(env);
    const events = sseEvents(await readAll(res));
    expect(events.map((e) => (e.data === '[DONE]' ? e.data : (e.data as any).choices[0].delta.content))).toEqual(['Hi', '[DONE]']);
    expect(res.headers.get('x-switchyard-attempts')).toBe('2');
    expect(calls).toHaveLength(2);
  });

  it('fails over when the connection drops before the first event', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2) });
    const broken = controlledStream();
    faultyUpstream((_, i) => (i === 0 ? sseResponse(broken.body) : sseResponse(`${chunk('ok')}data: [DONE]\n\n`)));
    broken.send(': keep-alive comment without end');
    broken.fail();
    const res = await streamChat(env);
    expect(sseEvents(await readAll(res))).toHaveLength(2);
    expect(res.headers.get('x-switchyard-attempts')).toBe('2');
  });
});

describe('client abort', () => {
  it('aborts the upstream request when the client goes away before the answer', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 2) });
    const client = new AbortController();
    let upstreamSignal: AbortSignal | undefined;
    const calls = faultyUpstream((call) => {
      upstreamSignal = call.signal;
      setTimeout(() => client.abort(), 20);
      return hang(call.signal);
    });
    const res = await streamChat(env, { signal: client.signal });
    expect(res.status).toBe(499);
    expect(upstreamSignal?.aborted).toBe(true);
    expect(calls).toHaveLength(1);
  });

  it('cancels the upstream stream when the client stops reading mid-stream', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 1) });
    const upstream = controlledStream();
    const calls = faultyUpstream(() => sseResponse(upstream.body));
    upstream.send(chunk('first'));
    const res = await streamChat(env);
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel('client left');
    await upstream.cancelled;
    expect(calls[0]!.signal?.aborted).toBe(true);
  });

  it('ends the stream of a client that goes away mid-stream (its request signal aborts): closed, not errored, and the upstream stopped', async () => {
    // workerd logs a response body that errors as an uncaught exception; nobody reads it any more.
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 1) });
    const upstream = controlledStream();
    const calls = faultyUpstream(() => sseResponse(upstream.body));
    upstream.send(chunk('first'));
    const client = new AbortController();
    const res = await streamChat(env, { signal: client.signal });
    const reader = res.body!.getReader();
    expect(await nextText(reader)).toBe(chunk('first'));
    const pending = reader.read();
    client.abort();
    expect((await pending).done).toBe(true);
    await upstream.cancelled;
    expect(calls[0]!.signal?.aborted).toBe(true);
  });

  it('ends the relay of a client that stops reading without a word (no signal, no cancel): the upstream is stopped and the usage settled', async () => {
    // Seen under load in workerd (npm run soak): a disconnect that neither aborts the request signal nor cancels the body.
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 1), vars: { UPSTREAM_IDLE_TIMEOUT_MS: '200' } });
    const upstream = controlledStream();
    const calls = faultyUpstream(() => sseResponse(upstream.body));
    upstream.send(chunk('first'));
    const ctx = createExecutionContext();
    const res = await app.request('/groq/v1/chat/completions', postJson({ ...CHAT, stream: true }), env, ctx);
    const reader = res.body!.getReader();
    expect(await nextText(reader)).toBe(chunk('first'));
    // The upstream goes on; the client reads nothing more.
    upstream.send(chunk('second'));
    await upstream.cancelled;
    expect(calls[0]!.signal?.aborted).toBe(true);
    await waitOnExecutionContext(ctx);
    const meter = testEnv.USER_METER.get(testEnv.USER_METER.idFromName('user:tester'));
    const [record] = await meter.pendingRecords(res.headers.get('x-request-id')!);
    expect(record).toMatchObject({ status: 200, stream: true, error_code: 'client_closed_request' });
  });

  it('does not fetch at all for a client that already left', async () => {
    const env = await multiKeyEnv({ groq: freshKeys('gsk', 1) });
    const calls = faultyUpstream(() => Response.json(completion()));
    const res = await streamChat(env, { signal: AbortSignal.abort() });
    expect(res.status).toBe(499);
    expect(calls).toHaveLength(0);
  });
});
