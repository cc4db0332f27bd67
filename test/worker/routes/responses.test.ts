import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { makeEnv, postJson, USER_KEY, userHeaders } from '../helpers/env';
import { forbidUpstream, type UpstreamCall } from '../helpers/fetch';
import { parseSse } from '../helpers/streams';
import { fixtureErrors, forgetKeyRests, mockFixtures } from '../unified/answers';
import { testConfig } from '../helpers/vault';

// POST /v1/responses on the gateway: translated (Anthropic, Gemini, OpenAI-compatible) and passed
// through (OpenAI), stored per user, continued with previous_response_id, read and deleted.

afterEach(() => {
  vi.restoreAllMocks();
  forgetKeyRests();
});

const OTHER_KEY = 'sy-user-key-other-9876543210';
const USERS = { tester: { key: USER_KEY }, other: { key: OTHER_KEY }, narrow: { key: 'sy-user-key-narrow-111', models: ['groq/llama-3.3-70b-versatile'] } };
const env = () => makeEnv({ users: USERS });

const post = (body: Record<string, unknown>, key = USER_KEY) => postJson(body, userHeaders(key));
const get = (key = USER_KEY) => ({ method: 'GET', headers: { authorization: `Bearer ${key}` } });
const del = (key = USER_KEY) => ({ method: 'DELETE', headers: { authorization: `Bearer ${key}` } });

/** A Response object as OpenAI answers one. */
const openaiResponse = (id: string, text: string) => ({
  id,
  object: 'response',
  created_at: 1741476542,
  status: 'completed',
  error: null,
  incomplete_details: null,
  model: 'gpt-4o-mini-2024-07-18',
  output: [{ type: 'message', id: `msg_${id}`, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [] }] }],
  previous_response_id: null,
  store: true,
  usage: { input_tokens: 36, input_tokens_details: { cached_tokens: 0 }, output_tokens: 87, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 123 },
});

function openaiStream(id: string, text: string): string {
  const response = openaiResponse(id, text);
  const events = [
    { type: 'response.created', response: { ...response, status: 'in_progress', output: [], usage: null } },
    { type: 'response.output_item.added', output_index: 0, item: { ...response.output[0], status: 'in_progress', content: [] } },
    { type: 'response.output_text.delta', item_id: `msg_${id}`, output_index: 0, content_index: 0, delta: text },
    { type: 'response.completed', response },
  ];
  return events.map((e, i) => `event: ${e.type}\ndata: ${JSON.stringify({ ...e, sequence_number: i })}\n\n`).join('');
}

/** OpenAI's answers to /responses calls, ids `resp_<tag><n>` (D1 keeps every test's rows of a file). */
const nativeAnswers = (tag: string) => (call: UpstreamCall, index: number) => {
  if (!call.url.endsWith('/responses')) return undefined;
  const id = `resp_${tag}${index}`;
  return call.json().stream
    ? new Response(openaiStream(id, `streamed ${index}`), { headers: { 'content-type': 'text/event-stream' } })
    : Response.json(openaiResponse(id, `answer ${index}`));
};

describe('translated: Anthropic', () => {
  it('answers a Response object, stores it for its user only, and deletes it', async () => {
    const { calls } = mockFixtures();
    const e = await env();
    const res = await app.request(
      '/v1/responses',
      post({ model: 'anthropic/claude-sonnet-4-5', input: 'Hello', instructions: 'Be brief.', max_output_tokens: 100 }),
      e,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-provider')).toBe('anthropic');
    expect(calls[0]!.url).toBe('https://api.anthropic.com/v1/messages');
    expect(calls[0]!.json()).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      system: 'Be brief.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
    });
    const answer = await res.json<Record<string, any>>();
    expect(answer).toMatchObject({
      object: 'response',
      status: 'completed',
      instructions: 'Be brief.',
      output: [{ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hi! My name is Claude.' }] }],
      usage: { input_tokens: 3095, output_tokens: 503 },
    });

    const stored = await app.request(`/v1/responses/${answer.id}`, get(), e);
    expect(await stored.json()).toEqual(answer);
    const foreign = await app.request(`/v1/responses/${answer.id}`, get(OTHER_KEY), e);
    expect(foreign.status).toBe(404);
    expect(await foreign.json()).toEqual({
      error: { message: `No response found with id '${answer.id}'.`, type: 'not_found_error', code: 'response_not_found' },
    });
    expect((await app.request(`/v1/responses/${answer.id}`, del(OTHER_KEY), e)).status).toBe(404);
    const deleted = await app.request(`/v1/responses/${answer.id}`, del(), e);
    expect(await deleted.json()).toEqual({ id: answer.id, object: 'response', deleted: true });
    expect((await app.request(`/v1/responses/${answer.id}`, get(), e)).status).toBe(404);
  });

  it('previous_response_id sends the stored conversation first; another user cannot continue it', async () => {
    const { calls } = mockFixtures();
    const e = await env();
    const first = await (await app.request('/v1/responses', post({ model: 'anthropic/claude-sonnet-4-5', input: 'Hello' }), e)).json<{ id: string }>();
    const second = await app.request('/v1/responses', post({ model: 'anthropic/claude-sonnet-4-5', input: 'And you?', previous_response_id: first.id }), e);
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ previous_response_id: first.id });
    expect(calls[1]!.json().messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Hello' }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Hi! My name is Claude.' }] },
      { role: 'user', content: [{ type: 'text', text: 'And you?' }] },
    ]);

    const stolen = await app.request('/v1/responses', post({ model: 'anthropic/claude-sonnet-4-5', input: 'x', previous_response_id: first.id }, OTHER_KEY), e);
    expect(stolen.status).toBe(404);
    expect(await stolen.json()).toMatchObject({
      error: { message: `Previous response with id '${first.id}' not found.`, code: 'previous_response_not_found' },
    });
    expect(calls).toHaveLength(2);
  });

  it('store: false answers without storing', async () => {
    mockFixtures();
    const e = await env();
    const answer = await (
      await app.request('/v1/responses', post({ model: 'anthropic/claude-sonnet-4-5', input: 'Hello', store: false }), e)
    ).json<{ id: string; store: boolean }>();
    expect(answer.store).toBe(false);
    expect((await app.request(`/v1/responses/${answer.id}`, get(), e)).status).toBe(404);
  });

  it('an upstream error is told in the OpenAI shape with its status', async () => {
    mockFixtures(() => fixtureErrors.anthropic429());
    const res = await app.request(
      '/v1/responses',
      post({ model: 'anthropic/claude-sonnet-4-5', input: 'Hello' }),
      await makeEnv({ users: USERS, vars: { MAX_ATTEMPTS: '1' } as never }),
    );
    expect(res.status).toBe(429);
    expect(await res.json()).toMatchObject({ error: { type: 'rate_limit_error', message: expect.stringContaining('anthropic: ') } });
  });
});

describe('translated: Gemini, streamed', () => {
  it('streams the official events and stores the completed response before response.completed goes out', async () => {
    const { calls } = mockFixtures();
    const e = await env();
    const res = await app.request('/v1/responses', post({ model: 'gemini/gemini-2.0-flash', input: 'Hello', stream: true }), e);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(calls[0]!.url).toContain(':streamGenerateContent?alt=sse');
    const events = parseSse(await res.text()).map((f) => f.data);
    expect(events[0]).toMatchObject({ type: 'response.created', sequence_number: 0 });
    const completed = events.at(-1);
    expect(completed.type).toBe('response.completed');
    expect(completed.response.usage.input_tokens).toBeGreaterThan(0);
    const stored = await (await app.request(`/v1/responses/${completed.response.id}`, get(), e)).json();
    expect(stored).toEqual(completed.response);
  });

  it('a stream the provider cuts short ends with response.failed, and nothing is stored', async () => {
    const first = 'data: {"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"},"index":0}]}\n\n';
    mockFixtures(() => new Response(first, { headers: { 'content-type': 'text/event-stream' } }));
    const e = await env();
    const res = await app.request('/v1/responses', post({ model: 'gemini/gemini-2.0-flash', input: 'Hello', stream: true }), e);
    const events = parseSse(await res.text()).map((f) => f.data);
    expect(events.map((event) => event.type)).toContain('response.output_text.delta');
    const failed = events.at(-1);
    expect(failed).toMatchObject({ type: 'response.failed', response: { status: 'failed', error: { code: 'server_error' } } });
    expect(failed.response.output[0]).toMatchObject({ type: 'message', status: 'incomplete', content: [{ text: 'Hel' }] });
    expect((await app.request(`/v1/responses/${failed.response.id}`, get(), e)).status).toBe(404);
  });
});

describe('passed through: OpenAI serves the Responses API', () => {
  it('forwards to /v1/responses with the conversation expanded and no previous_response_id', async () => {
    const { calls } = mockFixtures(nativeAnswers('native'));
    const e = await env();
    const res = await app.request('/v1/responses', post({ model: 'openai/gpt-4o-mini', input: 'Hello', metadata: { run: '1' } }), e);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-provider')).toBe('openai');
    expect(calls[0]!.url).toBe('https://api.openai.com/v1/responses');
    expect(calls[0]!.headers.get('authorization')).toBe('Bearer sk-key-openai-1');
    // The provider keeps nothing: the gateway stores the turn (`store: false` upstream, forward/provider-state.ts).
    expect(calls[0]!.json()).toEqual({ model: 'gpt-4o-mini', input: 'Hello', metadata: { run: '1' }, store: false });
    const first = await res.json<{ id: string }>();
    expect(first.id).toBe('resp_native0');

    const second = await app.request('/v1/responses', post({ model: 'openai/gpt-4o-mini', input: 'More', previous_response_id: first.id }), e);
    expect(await second.json()).toMatchObject({ id: 'resp_native1', previous_response_id: 'resp_native0' });
    const sent = calls[1]!.json();
    expect(sent.previous_response_id).toBeUndefined();
    expect(sent.input).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hello' }] },
      openaiResponse('resp_native0', 'answer 0').output[0],
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'More' }] },
    ]);
  });

  it('a stream passes byte for byte, and is stored once complete', async () => {
    mockFixtures(nativeAnswers('streamed'));
    const e = await env();
    const res = await app.request('/v1/responses', post({ model: 'openai/gpt-4o-mini', input: 'Hello', stream: true }), e);
    expect(await res.text()).toBe(openaiStream('resp_streamed0', 'streamed 0'));
    const stored = await (await app.request('/v1/responses/resp_streamed0', get(), e)).json();
    expect(stored).toMatchObject({ id: 'resp_streamed0', output: [{ content: [{ text: 'streamed 0' }] }] });
  });

  it('a stored response of another user is never passed upstream', async () => {
    mockFixtures(nativeAnswers('secret'));
    const e = await env();
    await app.request('/v1/responses', post({ model: 'openai/gpt-4o-mini', input: 'secret' }), e);
    vi.restoreAllMocks();
    const { calls } = forbidUpstream();
    const res = await app.request('/v1/responses', post({ model: 'openai/gpt-4o-mini', input: 'x', previous_response_id: 'resp_secret0' }, OTHER_KEY), e);
    expect(res.status).toBe(404);
    expect(calls).toHaveLength(0);
  });
});

describe('the route', () => {
  it('takes the key as x-api-key too', async () => {
    mockFixtures();
    const res = await app.request(
      '/v1/responses',
      postJson({ model: 'groq/llama-3.3-70b-versatile', input: 'Hi' }, { 'x-api-key': USER_KEY, 'content-type': 'application/json' }),
      await env(),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ output: [{ type: 'message', content: [{ text: 'Hello! How can I help you today?' }] }] });
  });

  it('enforces the user allow-list and refuses bad bodies in the OpenAI shape, without calling upstream', async () => {
    const { calls } = forbidUpstream();
    const e = await env();
    const denied = await app.request('/v1/responses', post({ model: 'anthropic/claude-sonnet-4-5', input: 'Hi' }, 'sy-user-key-narrow-111'), e);
    expect(denied.status).toBe(403);
    const bad = await app.request('/v1/responses', post({ model: 'groq/llama-3.3-70b-versatile', input: 42 }), e);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.stringContaining('input') } });
    const orphan = await app.request(
      '/v1/responses',
      post({ model: 'groq/llama-3.3-70b-versatile', input: [{ type: 'function_call_output', call_id: 'call_1', output: 'x' }] }),
      e,
    );
    expect(orphan.status).toBe(400);
    expect((await app.request('/v1/responses', post({ model: 'nobody/none', input: 'Hi' }), e)).status).toBe(404);
    expect((await app.request('/v1/responses/resp_x', { method: 'GET' }, e)).status).toBe(401);
    expect(calls).toHaveLength(0);
  });

  it('a bare model id falls back across the providers that list it', async () => {
    const config = testConfig();
    (config.providers.anthropic!.models as unknown[]).push({ id: 'shared', usage: 'chat', priority: 1 });
    (config.providers.groq!.models as unknown[]).push({ id: 'shared', usage: 'chat', priority: 2 });
    const { calls } = mockFixtures((call) =>
      call.url.includes('anthropic') ? new Response('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', { status: 529 }) : undefined,
    );
    const res = await app.request(
      '/v1/responses',
      post({ model: 'shared', input: 'Hi' }),
      await makeEnv({ users: USERS, config, vars: { MAX_ATTEMPTS: '1' } as never }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-provider')).toBe('groq');
    expect(calls.map((c) => new URL(c.url).host)).toEqual(['api.anthropic.com', 'api.groq.com']);
  });
});
