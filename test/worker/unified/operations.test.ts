import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { makeEnv, postJson, USER_KEY } from '../helpers/env';
import { forbidUpstream } from '../helpers/fetch';
import { testConfig } from '../helpers/vault';
import { fixtureErrors, forgetKeyRests, mockFixtures } from './answers';

afterEach(() => {
  vi.restoreAllMocks();
  forgetKeyRests();
});

const apiKey = { 'x-api-key': USER_KEY, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' };

describe('POST /v1/embeddings', () => {
  it('passes an OpenAI-protocol provider the request as it is, model renamed', async () => {
    const { calls } = mockFixtures();
    const body = { model: 'openai/text-embedding-3-small', input: ['a', 'b'], encoding_format: 'base64', dimensions: 2 };
    const res = await app.request('/v1/embeddings', postJson(body), await makeEnv());
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-provider')).toBe('openai');
    expect(calls[0]!.url).toBe('https://api.openai.com/v1/embeddings');
    expect(calls[0]!.json()).toEqual({ ...body, model: 'text-embedding-3-small' });
  });

  it('translates for Gemini: batchEmbedContents in, an OpenAI embeddings list out (base64 when asked)', async () => {
    const { calls } = mockFixtures();
    const res = await app.request(
      '/v1/embeddings',
      postJson({ model: 'text-embedding-004', input: ['first', 'second'], encoding_format: 'base64' }),
      await makeEnv(),
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:batchEmbedContents');
    const answer = (await res.json()) as { data: { embedding: string; index: number }[]; model: string };
    expect(answer.model).toBe('text-embedding-004');
    expect(answer.data.map((d) => d.index)).toEqual([0, 1]);
    const floats = new Float32Array(Uint8Array.from(atob(answer.data[0]!.embedding), (ch) => ch.charCodeAt(0)).buffer);
    expect(Array.from(floats)).toEqual([0.013168523, -0.008711934, -0.046782676, 0.00069968984].map(Math.fround));
  });

  it('a Gemini error is told in the OpenAI shape', async () => {
    mockFixtures(() => fixtureErrors.gemini400());
    const res = await app.request('/v1/embeddings', postJson({ model: 'text-embedding-004', input: 'x' }), await makeEnv());
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { message: 'gemini: API key not valid. Please pass a valid API key.' } });
  });

  it('refuses a model only offered by providers without embeddings (400) and a body without input', async () => {
    forbidUpstream();
    const env = await makeEnv();
    const chatOnly = await app.request('/v1/embeddings', postJson({ model: 'anthropic/claude-sonnet-4-5', input: 'x' }), env);
    expect(chatOnly.status).toBe(400);
    expect(await chatOnly.json()).toMatchObject({ error: { code: 'unsupported_operation' } });
    expect((await app.request('/v1/embeddings', postJson({ model: 'text-embedding-004' }), env)).status).toBe(400);
  });
});

describe('POST /v1/images/generations', () => {
  it('passes through to an OpenAI-protocol provider; other protocols are refused', async () => {
    const { calls } = mockFixtures();
    const env = await makeEnv();
    const res = await app.request('/v1/images/generations', postJson({ model: 'dall-e-3', prompt: 'a lighthouse', size: '1024x1024' }), env);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ created: 1, data: [{ url: 'https://images.example.com/1.png' }] });
    expect(calls[0]!.url).toBe('https://api.openai.com/v1/images/generations');
    expect(calls[0]!.json()).toEqual({ model: 'dall-e-3', prompt: 'a lighthouse', size: '1024x1024' });
    const gemini = await app.request('/v1/images/generations', postJson({ model: 'gemini/gemini-2.0-flash', prompt: 'x' }), env);
    expect(gemini.status).toBe(400);
    expect(calls).toHaveLength(1);
  });
});

describe('POST /v1/messages/count_tokens', () => {
  it('passes through to Anthropic (no max_tokens needed)', async () => {
    const { calls } = mockFixtures();
    const body = { model: 'anthropic/claude-sonnet-4-5', messages: [{ role: 'user', content: 'Hello' }] };
    const res = await app.request('/v1/messages/count_tokens', postJson(body, apiKey), await makeEnv());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ input_tokens: 14 });
    expect(calls[0]!.url).toBe('https://api.anthropic.com/v1/messages/count_tokens');
    expect(calls[0]!.json()).toEqual({ ...body, model: 'claude-sonnet-4-5' });
  });

  it("asks Gemini's countTokens for a Gemini model", async () => {
    const { calls } = mockFixtures();
    const body = { model: 'gemini/gemini-2.0-flash', system: 'Be brief.', messages: [{ role: 'user', content: 'Hello' }] };
    const res = await app.request('/v1/messages/count_tokens', postJson(body, apiKey), await makeEnv());
    expect(await res.json()).toEqual({ input_tokens: 31 });
    expect(calls[0]!.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:countTokens');
    expect(calls[0]!.json()).toEqual({
      generateContentRequest: {
        model: 'models/gemini-2.0-flash',
        contents: [{ role: 'user', parts: [{ text: 'Hello' }] }],
        systemInstruction: { parts: [{ text: 'Be brief.' }] },
      },
    });
  });

  it('is a clear 501 (Anthropic-shaped) for a model only OpenAI-protocol providers serve', async () => {
    const { calls } = forbidUpstream();
    const res = await app.request('/v1/messages/count_tokens', postJson({ model: 'groq/llama-3.3-70b-versatile', messages: [] }, apiKey), await makeEnv());
    expect(res.status).toBe(501);
    expect(await res.json()).toEqual({
      type: 'error',
      error: {
        type: 'api_error',
        message: expect.stringMatching(/only for models of providers that count with their own tokenizer .*served by openai providers/),
      },
    });
    expect(calls).toEqual([]);
  });

  it('skips providers that cannot count when a model is listed by several', async () => {
    const { calls } = mockFixtures();
    const config = testConfig();
    (config.providers.groq!.models as unknown[]).push({ id: 'gemini-2.0-flash', priority: 0 });
    const res = await app.request(
      '/v1/messages/count_tokens',
      postJson({ model: 'gemini-2.0-flash', messages: [{ role: 'user', content: 'x' }] }, apiKey),
      await makeEnv({ config }),
    );
    expect(res.headers.get('x-switchyard-provider')).toBe('gemini');
    expect(calls.map((c) => new URL(c.url).host)).toEqual(['generativelanguage.googleapis.com']);
  });
});
