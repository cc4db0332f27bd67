import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { makeEnv, postJson, USER_KEY } from '../helpers/env';
import { forgetKeyRests, mockFixtures } from './answers';

// What coding agents send that other clients do not: the user key as `x-api-key` on every route
// (Claude Code, the Anthropic SDK's models.list()), and `system` messages inside `messages`
// (Claude Code's beta mid-conversation-system-2026-04-07).

afterEach(() => {
  vi.restoreAllMocks();
  forgetKeyRests();
});

const BETA = 'mid-conversation-system-2026-04-07';
const anthropicHeaders = (extra: Record<string, string> = {}) => ({
  'x-api-key': USER_KEY,
  'anthropic-version': '2023-06-01',
  'content-type': 'application/json',
  ...extra,
});

describe('x-api-key on every user route', () => {
  it.each(['/v1/models', '/v1/providers', '/groq/v1/models', '/groq/v1/models/llama-3.3-70b-versatile', '/v1/models/groq/llama-3.3-70b-versatile'])(
    'GET %s accepts the key as x-api-key, refuses a wrong one and no key at all',
    async (path) => {
      const env = await makeEnv();
      const ok = await app.request(path, { headers: { 'x-api-key': USER_KEY } }, env);
      expect(ok.status).toBe(200);
      expect((await app.request(path, { headers: { 'x-api-key': 'sy-not-a-user' } }, env)).status).toBe(401);
      const none = await app.request(path, {}, env);
      expect(none.status).toBe(401);
      expect(await none.json()).toMatchObject({ error: { message: expect.stringContaining('x-api-key') } });
    },
  );

  it('POST routes take it too, and the user key never travels upstream', async () => {
    const { calls } = mockFixtures();
    const env = await makeEnv();
    const body = { model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'Hello' }] };
    const native = await app.request('/groq/v1/chat/completions', postJson(body, { 'x-api-key': USER_KEY, 'content-type': 'application/json' }), env);
    expect(native.status).toBe(200);
    const unified = await app.request(
      '/v1/chat/completions',
      postJson({ ...body, model: 'groq/llama-3.3-70b-versatile' }, { 'x-api-key': USER_KEY, 'content-type': 'application/json' }),
      env,
    );
    expect(unified.status).toBe(200);
    expect(calls).toHaveLength(2);
    for (const call of calls) {
      expect(call.headers.get('x-api-key')).toBeNull();
      expect(call.headers.get('authorization')).toMatch(/^Bearer gsk-key-groq-/);
    }
  });

  it('a bearer token wins over x-api-key when both are sent', async () => {
    const env = await makeEnv();
    const res = await app.request('/v1/models', { headers: { authorization: 'Bearer sy-not-a-user', 'x-api-key': USER_KEY } }, env);
    expect(res.status).toBe(401);
  });
});

describe('system messages inside messages (Anthropic clients)', () => {
  const conversation = {
    model: 'anthropic/claude-sonnet-4-5',
    max_tokens: 100,
    system: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
    messages: [
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Hi.' },
      { role: 'system', content: 'The user switched to plan mode.' },
      { role: 'user', content: [{ type: 'text', text: 'Plan it.' }] },
    ],
  };

  it('pass to an Anthropic provider as they are when the client sent the beta', async () => {
    const { calls } = mockFixtures();
    const res = await app.request(
      '/v1/messages',
      postJson(conversation, anthropicHeaders({ 'anthropic-beta': `claude-code-20250219,${BETA}` })),
      await makeEnv(),
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.headers.get('anthropic-beta')).toBe(`claude-code-20250219,${BETA}`);
    expect(calls[0]!.json()).toEqual({ ...conversation, model: 'claude-sonnet-4-5' });
  });

  it('are folded, in order, into the top-level system without the beta (the API refuses them then)', async () => {
    const { calls } = mockFixtures();
    const res = await app.request('/v1/messages', postJson(conversation, anthropicHeaders()), await makeEnv());
    expect(res.status).toBe(200);
    const sent = calls[0]!.json();
    expect(sent.system).toEqual([
      { type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } },
      { type: 'text', text: 'The user switched to plan mode.' },
    ]);
    expect(sent.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant', 'user']);
  });

  it('count_tokens folds them the same way', async () => {
    const { calls } = mockFixtures();
    const { max_tokens: _, ...count } = conversation;
    const res = await app.request('/v1/messages/count_tokens', postJson(count, anthropicHeaders()), await makeEnv());
    expect(res.status).toBe(200);
    expect(calls[0]!.json().messages).toHaveLength(3);
  });

  it('stay in place for an OpenAI-protocol provider', async () => {
    const { calls } = mockFixtures();
    const res = await app.request(
      '/v1/messages',
      postJson({ ...conversation, model: 'groq/llama-3.3-70b-versatile' }, anthropicHeaders({ 'anthropic-beta': BETA })),
      await makeEnv(),
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.json().messages).toEqual([
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Hi.' },
      { role: 'system', content: 'The user switched to plan mode.' },
      { role: 'user', content: [{ type: 'text', text: 'Plan it.' }] },
    ]);
  });

  it('join the system instruction for a Gemini provider', async () => {
    const { calls } = mockFixtures();
    const res = await app.request(
      '/v1/messages',
      postJson({ ...conversation, model: 'gemini/gemini-2.0-flash' }, anthropicHeaders({ 'anthropic-beta': BETA })),
      await makeEnv(),
    );
    expect(res.status).toBe(200);
    const sent = calls[0]!.json();
    expect(sent.systemInstruction).toEqual({ parts: [{ text: 'You are terse.\n\nThe user switched to plan mode.' }] });
    expect(sent.contents.map((c: { role: string }) => c.role)).toEqual(['user', 'model', 'user']);
  });

  it('any other role is still a clear 400', async () => {
    mockFixtures();
    const res = await app.request(
      '/v1/messages',
      postJson({ ...conversation, messages: [{ role: 'tool', content: 'x' }] }, anthropicHeaders()),
      await makeEnv(),
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('"system"') } });
  });
});

describe('Anthropic answers name the model as the client asked for it', () => {
  // Claude Code drops the thinking blocks of an assistant turn whose model is not the one it asks
  // for; Anthropic then refuses the tool loop. So `anthropic/claude-…` must come back as asked.
  const ask = async (model: string, stream: boolean) =>
    app.request(
      '/v1/messages',
      postJson({ model, max_tokens: 64, stream, messages: [{ role: 'user', content: 'Hello' }] }, anthropicHeaders()),
      await makeEnv(),
    );
  const streamedModel = (text: string) =>
    JSON.parse(
      text
        .split('\n')
        .find((line) => line.startsWith('data:'))!
        .slice(5),
    ).message.model;

  it.each([
    ['anthropic/claude-sonnet-4-5', 'passed through'],
    ['groq/llama-3.3-70b-versatile', 'translated from OpenAI'],
    ['gemini/gemini-2.0-flash', 'translated from Gemini'],
  ])('%s (%s), as a message and as a stream', async (model) => {
    mockFixtures();
    const message = await (await ask(model, false)).json();
    expect(message).toMatchObject({ type: 'message', model });
    const stream = await ask(model, true);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const text = await stream.text();
    expect(streamedModel(text)).toBe(model);
    expect(text).toContain('message_stop');
  });

  it('a bare model id is passed through untouched', async () => {
    mockFixtures();
    expect(await (await ask('claude-sonnet-4-5', false)).json()).toMatchObject({ model: 'claude-sonnet-4-5-20250929' });
  });
});
