import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { MAX_REQUEST_BYTES } from '../../../src/middleware/body-limit';
import anthropicStreamError from '../../fixtures/protocols/anthropic/stream-error.sse?raw';
import openaiStreamToolCalls from '../../fixtures/protocols/openai/stream-tool-calls.sse?raw';
import { makeEnv, postJson, USER_KEY, userHeaders } from '../helpers/env';
import { forbidUpstream } from '../helpers/fetch';
import { parseSse } from '../helpers/streams';
import { fixtureErrors, forgetKeyRests, mockFixtures } from './answers';

afterEach(() => {
  vi.restoreAllMocks();
  forgetKeyRests();
});

const sse = (text: string) => new Response(text, { headers: { 'content-type': 'text/event-stream' } });
const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'Hello' }], ...extra });
const apiKey = (key = USER_KEY) => ({ 'x-api-key': key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' });
const messages = (model: string, extra: Record<string, unknown> = {}) => ({ model, max_tokens: 256, messages: [{ role: 'user', content: 'Hello' }], ...extra });

describe('OpenAI client → Anthropic provider', () => {
  it('sends a Messages request with Anthropic auth, answers a chat completion', async () => {
    const { calls } = mockFixtures();
    const res = await app.request('/v1/chat/completions', postJson(chat('anthropic/claude-sonnet-4-5', { max_tokens: 100 })), await makeEnv());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(calls[0]!.url).toBe('https://api.anthropic.com/v1/messages');
    expect(calls[0]!.headers.get('x-api-key')).toBe('sk-ant-key-anthropic-1');
    expect(calls[0]!.headers.get('anthropic-version')).toBe('2023-06-01');
    expect(calls[0]!.headers.get('authorization')).toBeNull();
    expect(calls[0]!.json()).toEqual({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }] });
    expect(await res.json()).toMatchObject({
      object: 'chat.completion',
      model: 'claude-sonnet-4-5-20250929',
      choices: [{ message: { role: 'assistant', content: 'Hi! My name is Claude.' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3095, completion_tokens: 503 },
    });
  });

  it('streams chat.completion.chunk events as they arrive, ending with [DONE]', async () => {
    mockFixtures();
    const res = await app.request(
      '/v1/chat/completions',
      postJson(chat('anthropic/claude-sonnet-4-5', { stream: true, stream_options: { include_usage: true } })),
      await makeEnv(),
    );
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('x-switchyard-provider')).toBe('anthropic');
    const events = parseSse(await res.text());
    expect(events.at(-1)!.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => e.data);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello!');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 } });
  });

  it('an error event mid-stream becomes an OpenAI error event', async () => {
    mockFixtures(() => sse(anthropicStreamError));
    const res = await app.request('/v1/chat/completions', postJson(chat('anthropic/claude-sonnet-4-5', { stream: true })), await makeEnv());
    const events = parseSse(await res.text());
    expect(events.at(-1)!.data).toEqual({ error: { message: 'Overloaded', type: 'api_error', code: 'internal_error' } });
    expect(events.map((e) => e.data).some((d) => d === '[DONE]')).toBe(false);
  });

  it('an upstream error answer is told in the OpenAI shape, with its status and Retry-After', async () => {
    mockFixtures(() => new Response(fixtureErrors.anthropic429().body, { status: 429, headers: { 'content-type': 'application/json', 'retry-after': '7' } }));
    const env = await makeEnv({ vars: { MAX_ATTEMPTS: '1' } as never });
    const res = await app.request('/v1/chat/completions', postJson(chat('anthropic/claude-sonnet-4-5')), env);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect(await res.json()).toEqual({
      error: {
        message: 'anthropic: This request would exceed the rate limit for your organization of 50 input tokens per minute.',
        type: 'rate_limit_error',
        code: 'rate_limited',
      },
    });
  });
});

describe('OpenAI client → Gemini provider', () => {
  it('streams through streamGenerateContent?alt=sse with the usage chunk when asked', async () => {
    const { calls } = mockFixtures();
    const res = await app.request(
      '/v1/chat/completions',
      postJson(chat('gemini/gemini-2.0-flash', { stream: true, stream_options: { include_usage: true } })),
      await makeEnv(),
    );
    expect(calls[0]!.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse');
    expect(calls[0]!.headers.get('x-goog-api-key')).toBe('AIza-key-gemini-1');
    expect(calls[0]!.json()).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Hello' }] }] });
    const events = parseSse(await res.text());
    const chunks = events.slice(0, -1).map((e) => e.data);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello there, how can I help?');
    expect(chunks.at(-2).choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 7 } });
  });

  it('plain: a chat completion from generateContent', async () => {
    mockFixtures();
    const res = await app.request('/v1/chat/completions', postJson(chat('gemini/gemini-2.0-flash')), await makeEnv());
    expect(await res.json()).toMatchObject({ model: 'gemini-2.5-flash', choices: [{ message: { content: 'Hello! How can I help you today?' } }] });
  });
});

describe('POST /v1/messages (Anthropic client)', () => {
  it('accepts x-api-key; on an OpenAI provider it answers an Anthropic message', async () => {
    const { calls } = mockFixtures();
    const res = await app.request('/v1/messages', postJson(messages('groq/llama-3.3-70b-versatile', { system: 'Be brief.' }), apiKey()), await makeEnv());
    expect(res.status).toBe(200);
    expect(calls[0]!.url).toBe('https://api.groq.com/openai/v1/chat/completions');
    expect(calls[0]!.headers.get('authorization')).toBe('Bearer gsk-key-groq-1');
    expect(calls[0]!.headers.get('x-api-key')).toBeNull();
    expect(calls[0]!.json()).toEqual({
      model: 'llama-3.3-70b-versatile',
      max_tokens: 256,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello' },
      ],
    });
    expect(await res.json()).toEqual({
      id: expect.stringMatching(/^msg_/),
      type: 'message',
      role: 'assistant',
      // Named as the client asked for it (Claude Code keys a turn's thinking on it).
      model: 'groq/llama-3.3-70b-versatile',
      content: [{ type: 'text', text: 'Hello! How can I help you today?' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 19, output_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
  });

  it('accepts a bearer key too; streams Anthropic events from an OpenAI tool-call stream', async () => {
    const { calls } = mockFixtures(() => sse(openaiStreamToolCalls));
    const tools = [{ name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { location: { type: 'string' } } } }];
    const res = await app.request('/v1/messages', postJson(messages('openai/gpt-4o-mini', { stream: true, tools }), userHeaders()), await makeEnv());
    expect(res.status).toBe(200);
    expect(calls[0]!.json()).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: 'function', function: { name: 'get_weather' } }],
    });
    const events = parseSse(await res.text());
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events.at(-2)!.data.delta.stop_reason).toBe('tool_use');
  });

  it('streams from a Gemini provider', async () => {
    mockFixtures();
    const res = await app.request('/v1/messages', postJson(messages('gemini/gemini-2.0-flash', { stream: true }), apiKey()), await makeEnv());
    const events = parseSse(await res.text());
    expect(events[0]!.event).toBe('message_start');
    expect(
      events
        .filter((e) => e.event === 'content_block_delta')
        .map((e) => e.data.delta.text)
        .join(''),
    ).toBe('Hello there, how can I help?');
    expect(events.at(-2)!.data).toMatchObject({ delta: { stop_reason: 'end_turn' }, usage: { input_tokens: 5, output_tokens: 7 } });
    expect(events.at(-1)!.event).toBe('message_stop');
  });

  it('passes through to an Anthropic provider, model renamed, the client version and beta headers kept', async () => {
    const { calls } = mockFixtures();
    const body = messages('anthropic/claude-sonnet-4-5', { stream: true, thinking: { type: 'enabled', budget_tokens: 1024 } });
    const res = await app.request('/v1/messages', postJson(body, { ...apiKey(), 'anthropic-beta': 'interleaved-thinking-2025-05-14' }), await makeEnv());
    expect(calls[0]!.json()).toEqual({ ...body, model: 'claude-sonnet-4-5' });
    expect(calls[0]!.headers.get('anthropic-beta')).toBe('interleaved-thinking-2025-05-14');
    expect(calls[0]!.headers.get('x-api-key')).toBe('sk-ant-key-anthropic-1');
    expect(res.headers.get('x-switchyard-provider')).toBe('anthropic');
    expect(await res.text()).toContain('event: message_stop');
  });
});

describe('errors on /v1/messages are Anthropic-shaped', () => {
  const anthropicError = (type: string) => ({ type: 'error', error: { type, message: expect.any(String) } });

  it('401 without a key, with an unknown key, and with a malformed one', async () => {
    forbidUpstream();
    const env = await makeEnv();
    for (const headers of [{ 'content-type': 'application/json' }, apiKey('sy-unknown-key'), { ...apiKey(), 'x-api-key': 'bad key!' }]) {
      const res = await app.request('/v1/messages', postJson(messages('groq/llama-3.3-70b-versatile'), headers), env);
      expect([400, 401]).toContain(res.status);
      expect(await res.json()).toEqual(anthropicError(res.status === 401 ? 'authentication_error' : 'invalid_request_error'));
    }
  });

  it('400 for a request without max_tokens, 404 for an unknown model, 403 outside the allow-list', async () => {
    forbidUpstream();
    const env = await makeEnv({ users: { tester: { key: USER_KEY, providers: ['groq'] } } });
    const noMax = await app.request('/v1/messages', postJson({ model: 'groq/llama-3.3-70b-versatile', messages: [] }, apiKey()), env);
    expect(noMax.status).toBe(400);
    expect(await noMax.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') } });
    const unknown = await app.request('/v1/messages', postJson(messages('claude-opus-9'), apiKey()), env);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual(anthropicError('not_found_error'));
    const denied = await app.request('/v1/messages', postJson(messages('anthropic/claude-sonnet-4-5'), apiKey()), env);
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual(anthropicError('permission_error'));
  });

  it('413 for a body over the limit', async () => {
    forbidUpstream();
    const big = JSON.stringify(messages('groq/llama-3.3-70b-versatile', { system: 'x'.repeat(MAX_REQUEST_BYTES) }));
    const res = await app.request('/v1/messages', { method: 'POST', headers: apiKey(), body: big }, await makeEnv());
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual(anthropicError('request_too_large'));
  }, 30_000); // a body of MAX_REQUEST_BYTES takes seconds on a loaded machine

  it('an OpenAI-protocol provider error is told as an Anthropic error, status kept', async () => {
    mockFixtures(
      () => new Response('{"error":{"message":"model is decommissioned","type":"invalid_request_error","code":"model_decommissioned"}}', { status: 400 }),
    );
    const res = await app.request('/v1/messages', postJson(messages('groq/llama-3.3-70b-versatile'), apiKey()), await makeEnv());
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: 'groq: model is decommissioned' } });
  });

  it('a Gemini failure mid-stream ends the Anthropic stream with an error event', async () => {
    mockFixtures(() =>
      sse(
        'data: {"candidates":[{"content":{"parts":[{"text":"Hi"}],"role":"model"}}]}\r\n\r\ndata: {"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}\r\n\r\n',
      ),
    );
    const res = await app.request('/v1/messages', postJson(messages('gemini/gemini-2.0-flash', { stream: true }), apiKey()), await makeEnv());
    const events = parseSse(await res.text());
    expect(events.at(-1)).toEqual({ event: 'error', data: { type: 'error', error: { type: 'api_error', message: 'Internal error encountered.' } } });
    expect(events.some((e) => e.event === 'message_stop')).toBe(false);
  });
});
