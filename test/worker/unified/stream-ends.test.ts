import { createExecutionContext, env as testEnv, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { makeEnv, postJson } from '../helpers/env';
import { controlledStream, faultyUpstream, sseResponse } from '../helpers/upstreams';
import { anthropicEvent, geminiStream, openaiChunk } from '../helpers/wire';
import { forgetKeyRests } from './answers';

// A translated stream stops its upstream once the answer is over for the client: when the client
// leaves (its body cancelled, or its request signal aborted, which is how workerd tells), and when
// the upstream's stream fails mid-way (the provider's error event, an event the gateway cannot
// read): the client's stream then ends with that error. No tokens are spent for nobody.

afterEach(() => {
  vi.restoreAllMocks();
  forgetKeyRests();
});

/** Each upstream protocol: the start of an answer, and two ways its stream fails mid-way. */
const UPSTREAMS = {
  openai: {
    start: [
      openaiChunk('llama-3.3-70b-versatile', { role: 'assistant', content: '' }),
      openaiChunk('llama-3.3-70b-versatile', { content: 'Once upon a time' }),
    ],
    providerError: `data: ${JSON.stringify({ error: { message: 'Overloaded', type: 'server_error', code: null } })}\n\n`,
    unreadable: `data: ${JSON.stringify({ id: 'chatcmpl-x', object: 'chat.completion.chunk', choices: 'none' })}\n\n`,
  },
  anthropic: {
    start: [
      anthropicEvent('message_start', {
        message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [], usage: { input_tokens: 12, output_tokens: 1 } },
      }),
      anthropicEvent('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      anthropicEvent('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Once upon a time' } }),
    ],
    providerError: anthropicEvent('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }),
    unreadable: anthropicEvent('content_block_delta', { index: 'zero' }),
  },
  gemini: {
    start: geminiStream(['Once upon a time', '']).slice(0, 1),
    providerError: `data: ${JSON.stringify({ error: { code: 503, message: 'Overloaded', status: 'UNAVAILABLE' } })}\r\n\r\n`,
    unreadable: `data: ${JSON.stringify({ candidates: 'none' })}\r\n\r\n`,
  },
};

const messages = [{ role: 'user', content: 'Tell me a story' }];
const ROUTES = [
  ['/v1/chat/completions → Anthropic', '/v1/chat/completions', { model: 'anthropic/claude-sonnet-4-5', stream: true, messages }, 'anthropic'],
  ['/v1/chat/completions → Gemini', '/v1/chat/completions', { model: 'gemini/gemini-2.0-flash', stream: true, messages }, 'gemini'],
  ['/v1/messages → OpenAI-compatible', '/v1/messages', { model: 'groq/llama-3.3-70b-versatile', max_tokens: 64, stream: true, messages }, 'openai'],
  ['/v1/messages → Gemini', '/v1/messages', { model: 'gemini/gemini-2.0-flash', max_tokens: 64, stream: true, messages }, 'gemini'],
  ['/v1/responses → OpenAI-compatible', '/v1/responses', { model: 'groq/llama-3.3-70b-versatile', stream: true, input: 'Tell me a story' }, 'openai'],
  ['/v1/responses → Anthropic', '/v1/responses', { model: 'anthropic/claude-sonnet-4-5', stream: true, input: 'Tell me a story' }, 'anthropic'],
] as const;

type Protocol = keyof typeof UPSTREAMS;

/** A translated streaming request whose upstream has sent the start of its answer and goes on streaming as the test says. */
async function streaming(path: string, body: unknown, protocol: Protocol, init: RequestInit = {}) {
  const upstream = controlledStream();
  const calls = faultyUpstream(() => sseResponse(upstream.body));
  for (const event of UPSTREAMS[protocol].start) upstream.send(event);
  const ctx = createExecutionContext();
  const res = await app.request(path, { ...postJson(body), ...init }, await makeEnv(), ctx);
  expect(res.status).toBe(200);
  return { res, upstream, calls, ctx };
}

/** `promise`, or a failure naming what never happened (rather than the test's timeout). */
function within<T>(promise: Promise<T>, what: string, ms = 2_000): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(what)), ms))]);
}

/** Reads until the answer's text has arrived: the stream is flowing. */
async function readAnswerStart(reader: ReadableStreamDefaultReader<Uint8Array>) {
  for (let text = ''; !text.includes('Once upon a time');) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the stream ended before the answer came: ${text}`);
    text += new TextDecoder().decode(value);
  }
}

/** The usage record the request settled (the test user's meter). */
async function recordOf(res: Response) {
  const meter = testEnv.USER_METER.get(testEnv.USER_METER.idFromName('user:tester'));
  const [record] = await meter.pendingRecords(res.headers.get('x-request-id')!);
  return record;
}

describe.each(ROUTES)('a translated stream, %s', (_, path, body, protocol) => {
  it('a client that cancels its body mid-stream: the upstream is stopped, the record settled with what was streamed', async () => {
    const { res, upstream, calls, ctx } = await streaming(path, body, protocol);
    const reader = res.body!.getReader();
    await readAnswerStart(reader);
    await reader.cancel();
    await within(upstream.cancelled, 'the upstream body was never cancelled');
    expect(calls[0]!.signal?.aborted).toBe(true);
    await waitOnExecutionContext(ctx);
    const record = await recordOf(res);
    expect(record).toMatchObject({ status: 200, stream: true, error_code: 'client_closed_request' });
    expect(record!.output_tokens).toBeGreaterThan(0);
  });

  it('a client whose request signal aborts mid-stream (it went away): the upstream is stopped', async () => {
    const client = new AbortController();
    const { res, upstream, calls, ctx } = await streaming(path, body, protocol, { signal: client.signal });
    await readAnswerStart(res.body!.getReader());
    client.abort();
    await within(upstream.cancelled, 'the upstream body was never cancelled');
    expect(calls[0]!.signal?.aborted).toBe(true);
    await waitOnExecutionContext(ctx);
    expect(await recordOf(res)).toMatchObject({ status: 200, error_code: 'client_closed_request' });
  });

  it.each(['providerError', 'unreadable'] as const)(
    'an upstream stream that fails mid-way (%s): the client gets the error and an end, the upstream is stopped',
    async (failure) => {
      const { res, upstream, calls, ctx } = await streaming(path, body, protocol);
      // The upstream would go on streaming after its failure: only the gateway can end the answer.
      upstream.send(UPSTREAMS[protocol][failure]);
      const text = await within(res.text(), "the client's stream never ended");
      expect(text).toContain(failure === 'providerError' ? 'Overloaded' : 'cannot read');
      await within(upstream.cancelled, 'the upstream body was never cancelled');
      expect(calls[0]!.signal?.aborted).toBe(true);
      await waitOnExecutionContext(ctx);
      expect(await recordOf(res)).toMatchObject({ status: 200, error_code: 'upstream_stream_failed' });
    },
  );
});
