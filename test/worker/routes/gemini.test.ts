import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import anthropicToolStream from '../../fixtures/protocols/anthropic/stream-tool-use.sse?raw';
import geminiResponse from '../../fixtures/protocols/gemini/response-text.json?raw';
import openaiToolCalls from '../../fixtures/protocols/openai/completion-tool-calls.json?raw';
import openaiToolStream from '../../fixtures/protocols/openai/stream-tool-calls.sse?raw';
import { makeEnv, USER_KEY } from '../helpers/env';
import { forgetKeyRests, mockFixtures } from '../unified/answers';

// The Gemini-protocol door (/v1beta/models/…) and the Gemini clients' own credential
// (x-goog-api-key, ?key=) on every user route.

afterEach(() => {
  vi.restoreAllMocks();
  forgetKeyRests();
});

const googleHeaders = (key = USER_KEY) => ({ 'x-goog-api-key': key, 'content-type': 'application/json' });
const post = (body: unknown, headers: Record<string, string> = googleHeaders()): RequestInit => ({ method: 'POST', headers, body: JSON.stringify(body) });
const hello = { contents: [{ role: 'user', parts: [{ text: 'Hello' }] }] };
const json = (text: string, status = 200) => new Response(text, { status, headers: { 'content-type': 'application/json' } });
const sse = (text: string) => new Response(text, { headers: { 'content-type': 'text/event-stream' } });

/** The `data:` events of an SSE text, parsed. */
const sseData = (text: string) =>
  text
    .split(/\r?\n\r?\n/)
    .filter((frame) => frame.startsWith('data: '))
    .map((frame) => JSON.parse(frame.slice('data: '.length)));

describe('x-goog-api-key and ?key= carry the user key', () => {
  it.each(['/v1/models', '/v1/providers', '/groq/v1/models', '/v1beta/models'])('GET %s takes either, refuses a wrong one', async (path) => {
    const env = await makeEnv();
    expect((await app.request(path, { headers: { 'x-goog-api-key': USER_KEY } }, env)).status).toBe(200);
    expect((await app.request(`${path}?key=${USER_KEY}`, {}, env)).status).toBe(200);
    expect((await app.request(path, { headers: { 'x-goog-api-key': 'sy-not-a-user' } }, env)).status).toBe(401);
    expect((await app.request(`${path}?key=sy-not-a-user`, {}, env)).status).toBe(401);
    const none = await app.request(path, {}, env);
    expect(none.status).toBe(401);
    expect(await none.text()).toContain('x-goog-api-key');
  });

  it('Authorization and x-api-key win over x-goog-api-key and ?key=', async () => {
    const env = await makeEnv();
    const wrongBearer = { authorization: 'Bearer sy-not-a-user', 'x-goog-api-key': USER_KEY };
    expect((await app.request(`/v1/models?key=${USER_KEY}`, { headers: wrongBearer }, env)).status).toBe(401);
    expect((await app.request('/v1/models', { headers: { 'x-api-key': 'sy-not-a-user', 'x-goog-api-key': USER_KEY } }, env)).status).toBe(401);
    expect((await app.request('/v1/models?key=sy-not-a-user', { headers: { 'x-goog-api-key': USER_KEY } }, env)).status).toBe(200);
  });

  it('on the proxy route (Gemini CLI with GOOGLE_GEMINI_BASE_URL=<gateway>/gemini), neither travels upstream', async () => {
    const { calls } = mockFixtures();
    const env = await makeEnv();
    const viaHeader = await app.request('/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse', post(hello), env);
    expect(viaHeader.status).toBe(200);
    const viaQuery = await app.request(
      `/gemini/v1beta/models/gemini-2.0-flash:generateContent?key=${USER_KEY}`,
      post(hello, { 'content-type': 'application/json' }),
      env,
    );
    expect(viaQuery.status).toBe(200);
    expect(calls.map((call) => call.url)).toEqual([
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse',
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent',
    ]);
    for (const call of calls) {
      expect(call.headers.get('x-goog-api-key')).toBe('AIza-key-gemini-1');
      expect(call.text()).not.toContain(USER_KEY);
    }
  });
});

describe('POST /v1beta/models/{model}:generateContent', () => {
  it('a Gemini model: the request passes through as the client sent it', async () => {
    const { calls } = mockFixtures();
    const env = await makeEnv();
    const body = {
      system_instruction: { parts: [{ text: 'Be terse.' }] },
      contents: [{ role: 'user', parts: [{ text: 'Hello' }] }],
      generationConfig: { topK: 3, thinkingConfig: { includeThoughts: true } },
      tools: [{ googleSearch: {} }],
    };
    const res = await app.request('/v1beta/models/gemini/gemini-2.0-flash:generateContent', post(body), env);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-provider')).toBe('gemini');
    expect(res.headers.get('x-switchyard-dropped-tools')).toBeNull();
    expect(calls[0]!.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent');
    expect(calls[0]!.json()).toEqual(body);
    expect(await res.text()).toBe(geminiResponse);
  });

  it('an OpenAI-protocol model: translated both ways, tools, a tool loop and images included', async () => {
    const { calls } = mockFixtures((call) => (call.url.endsWith('/chat/completions') ? json(openaiToolCalls) : undefined));
    const env = await makeEnv();
    const png = 'iVBORw0KGgo=';
    const body = {
      systemInstruction: { parts: [{ text: 'Be terse.' }] },
      contents: [
        { role: 'user', parts: [{ text: 'Weather in Boston?' }, { inline_data: { mime_type: 'image/png', data: png } }] },
        { role: 'model', parts: [{ functionCall: { id: 'call_1', name: 'get_weather', args: { location: 'Paris' } } }] },
        { role: 'user', parts: [{ functionResponse: { id: 'call_1', name: 'get_weather', response: { output: '18 degrees' } } }] },
      ],
      tools: [
        {
          functionDeclarations: [{ name: 'get_weather', parameters: { type: 'OBJECT', properties: { location: { type: 'STRING' } }, required: ['location'] } }],
        },
        { googleSearch: {} },
        { urlContext: {} },
      ],
      toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } },
      generationConfig: { maxOutputTokens: 100, temperature: 0.5, stopSequences: ['END'], thinkingConfig: { thinkingBudget: 2048 } },
    };
    const res = await app.request('/v1beta/models/groq/llama-3.3-70b-versatile:generateContent', post(body), env);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-dropped-tools')).toBe('web_search, urlContext');
    const sent = calls[0]!.json();
    expect(calls[0]!.url).toBe('https://api.groq.com/openai/v1/chat/completions');
    expect(calls[0]!.headers.get('authorization')).toBe('Bearer gsk-key-groq-1');
    expect(Object.keys(sent)).not.toContain('web_search_options');
    expect(sent).toMatchObject({
      model: 'llama-3.3-70b-versatile',
      messages: [
        { role: 'system', content: 'Be terse.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather in Boston?' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
          ],
        },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '18 degrees' },
      ],
      tools: [
        {
          type: 'function',
          function: { name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } },
        },
      ],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 100,
      temperature: 0.5,
      stop: ['END'],
      reasoning_effort: 'low',
    });
    expect(await res.json()).toEqual({
      candidates: [
        {
          content: {
            role: 'model',
            parts: [
              { functionCall: { id: 'call_abc123', name: 'get_weather', args: { location: 'Boston, MA' } } },
              { functionCall: { id: 'call.weird:id/2', name: 'get_time', args: {} } },
            ],
          },
          finishReason: 'STOP',
          index: 0,
        },
      ],
      usageMetadata: { promptTokenCount: 82, candidatesTokenCount: 17, totalTokenCount: 99, cachedContentTokenCount: 64 },
      modelVersion: 'groq/llama-3.3-70b-versatile',
      responseId: 'chatcmpl-abc123',
    });
  });

  it("Google Search becomes the provider's own web search where it has one (Anthropic's server tool)", async () => {
    const { calls } = mockFixtures();
    const env = await makeEnv();
    const res = await app.request('/v1beta/models/anthropic/claude-sonnet-4-5:generateContent', post({ ...hello, tools: [{ googleSearch: {} }] }), env);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-dropped-tools')).toBeNull();
    expect(calls[0]!.json().tools).toEqual([expect.objectContaining({ type: expect.stringMatching(/^web_search_\d{8}$/) })]);
  });

  it("refuses what it cannot translate, in Google's error shape, before calling anyone", async () => {
    const { calls } = mockFixtures();
    const env = await makeEnv();
    const cases: [unknown, string][] = [
      [{ contents: [{ role: 'user', parts: [{ inlineData: { mimeType: 'application/pdf', data: 'JVBERi0=' } }] }] }, 'application/pdf'],
      [{ contents: [{ role: 'user', parts: [{ fileData: { fileUri: 'https://generativelanguage.googleapis.com/v1beta/files/x' } }] }] }, 'fileData'],
      [{ contents: [{ role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: {} } }] }] }, 'answers no functionCall'],
      [{ contents: [] }, 'contents'],
      [{}, 'contents'],
    ];
    for (const [body, wording] of cases) {
      const res = await app.request('/v1beta/models/groq/llama-3.3-70b-versatile:generateContent', post(body), env);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: { code: 400, message: expect.stringContaining(wording), status: 'INVALID_ARGUMENT' } });
    }
    expect(calls).toHaveLength(0);
  });

  it('errors are Google-shaped: no key, an unknown model, an unknown method, an upstream refusal', async () => {
    mockFixtures((call) =>
      call.url.endsWith('/chat/completions') ? json('{"error":{"message":"Rate limit reached","type":"tokens","code":"rate_limit_exceeded"}}', 429) : undefined,
    );
    const env = await makeEnv();
    const noKey = await app.request('/v1beta/models/groq/llama-3.3-70b-versatile:generateContent', post(hello, { 'content-type': 'application/json' }), env);
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toEqual({ error: { code: 401, message: expect.stringContaining('x-goog-api-key'), status: 'UNAUTHENTICATED' } });
    const unknown = await app.request('/v1beta/models/groq/no-such-model:generateContent', post(hello), env);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
    const method = await app.request('/v1beta/models/groq/llama-3.3-70b-versatile:embedContent', post(hello), env);
    expect(method.status).toBe(404);
    expect(await method.json()).toMatchObject({ error: { code: 404, message: expect.stringContaining('embedContent') } });
    const refused = await app.request('/v1beta/models/groq/llama-3.3-70b-versatile:generateContent', post(hello), env);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ error: { code: 429, message: 'groq: Rate limit reached', status: 'RESOURCE_EXHAUSTED' } });
  });
});

describe('POST /v1beta/models/{model}:streamGenerateContent', () => {
  it('alt=sse from an OpenAI-protocol stream: text, then whole function calls with the finish and usage', async () => {
    mockFixtures((call) => (call.url.endsWith('/chat/completions') ? sse(openaiToolStream) : undefined));
    const env = await makeEnv();
    const res = await app.request('/v1beta/models/groq/llama-3.3-70b-versatile:streamGenerateContent?alt=sse', post(hello), env);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    expect(text).toMatch(/\r\n\r\n$/);
    const events = sseData(text);
    expect(events.at(-1)).toMatchObject({
      candidates: [
        {
          content: {
            parts: [
              { functionCall: { id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA', name: 'get_weather', args: { location: 'Paris' } } },
              { functionCall: { id: 'call_ABCDEFGHIJ0123456789abcd', name: 'get_weather', args: { location: 'Lyon' } } },
            ],
          },
          finishReason: 'STOP',
        },
      ],
      modelVersion: 'groq/llama-3.3-70b-versatile',
    });
    expect(events.every((event) => event.responseId === events[0].responseId)).toBe(true);
  });

  it('without alt=sse, one JSON array, element by element; Anthropic thinking as thoughts, its signature kept for the next turn', async () => {
    const { calls } = mockFixtures((call) => (call.url.endsWith('/messages') ? sse(anthropicToolStream) : undefined));
    const env = await makeEnv();
    const body = { ...hello, generationConfig: { thinkingConfig: { includeThoughts: true, thinkingBudget: 8192 } } };
    const res = await app.request('/v1beta/models/anthropic/claude-sonnet-4-5:streamGenerateContent', post(body), env);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    const text = await res.text();
    expect(text.startsWith('[')).toBe(true);
    const elements = JSON.parse(text) as { candidates: { content: { parts: Record<string, any>[] }; finishReason?: string }[] }[];
    const parts = elements.flatMap((element) => element.candidates[0]!.content.parts);
    expect(parts[0]).toEqual({ text: 'The user wants the weather.', thought: true });
    expect(
      parts
        .filter((part) => part.text && !part.thought)
        .map((part) => part.text)
        .join(''),
    ).toBe("Okay, let's check the weather.");
    const call = parts.find((part) => part.functionCall)!;
    expect(call.functionCall).toMatchObject({ name: 'get_weather' });
    expect(elements.at(-1)!.candidates[0]!.finishReason).toBe('STOP');
    expect(calls[0]!.json()).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 8192 }, stream: true });

    // The next turn sends the model's content back as it came: Anthropic gets its signed thinking again.
    const next = {
      contents: [
        ...hello.contents,
        { role: 'model', parts },
        { role: 'user', parts: [{ functionResponse: { id: call.functionCall.id, name: 'get_weather', response: { temperature: 18 } } }] },
      ],
      generationConfig: body.generationConfig,
    };
    const again = await app.request('/v1beta/models/anthropic/claude-sonnet-4-5:streamGenerateContent?alt=sse', post(next), env);
    expect(again.status).toBe(200);
    await again.text();
    const sent = calls[1]!.json();
    expect(sent.thinking).toEqual({ type: 'enabled', budget_tokens: 8192 });
    expect(sent.messages[1].content[0]).toEqual({
      type: 'thinking',
      thinking: 'The user wants the weather.',
      signature: expect.stringMatching(/^EqQBCgIYAhIM/),
    });
    expect(sent.messages[2].content[0]).toMatchObject({ type: 'tool_result', tool_use_id: call.functionCall.id, content: '{"temperature":18}' });
  });
});

describe('countTokens and the model list', () => {
  it("Gemini passes through (its generateContentRequest naming the provider's model), Anthropic is translated, others are a 501", async () => {
    const { calls } = mockFixtures();
    const env = await makeEnv();
    const gemini = await app.request(
      '/v1beta/models/gemini/gemini-2.0-flash:countTokens',
      post({ generateContentRequest: { model: 'models/gemini/gemini-2.0-flash', ...hello } }),
      env,
    );
    expect(gemini.status).toBe(200);
    expect(calls[0]!.json()).toEqual({ generateContentRequest: { model: 'models/gemini-2.0-flash', ...hello } });
    const anthropic = await app.request('/v1beta/models/anthropic/claude-sonnet-4-5:countTokens', post(hello), env);
    expect(await anthropic.json()).toEqual({ totalTokens: 14 });
    expect(calls[1]!.url).toBe('https://api.anthropic.com/v1/messages/count_tokens');
    expect(calls[1]!.json()).toEqual({ model: 'claude-sonnet-4-5', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }] });
    const groq = await app.request('/v1beta/models/groq/llama-3.3-70b-versatile:countTokens', post(hello), env);
    expect(groq.status).toBe(501);
    expect(await groq.json()).toMatchObject({ error: { code: 501, status: 'UNIMPLEMENTED' } });
    expect(calls).toHaveLength(2);
  });

  it("GET /v1beta/models lists chat models in Google's shape, paged; GET /v1beta/models/{model} names one", async () => {
    const env = await makeEnv();
    const res = await app.request('/v1beta/models?pageSize=2', { headers: { 'x-goog-api-key': USER_KEY } }, env);
    const page = (await res.json()) as { models: Record<string, unknown>[]; nextPageToken?: string };
    expect(page.models).toHaveLength(2);
    expect(page.nextPageToken).toBe('2');
    const all = (await (await app.request('/v1beta/models?pageSize=1000', { headers: { 'x-goog-api-key': USER_KEY } }, env)).json()) as { models: any[] };
    expect(all.models.find((m) => m.name === 'models/groq/llama-3.3-70b-versatile')).toEqual({
      name: 'models/groq/llama-3.3-70b-versatile',
      version: '',
      displayName: 'groq/llama-3.3-70b-versatile',
      inputTokenLimit: 131072,
      outputTokenLimit: 32768,
      supportedGenerationMethods: ['generateContent', 'streamGenerateContent'],
    });
    expect(all.models.find((m) => m.name === 'models/gemini/gemini-2.0-flash').supportedGenerationMethods).toContain('countTokens');
    expect(all.models.some((m) => m.name === 'models/gemini/text-embedding-004')).toBe(false);
    const one = await app.request('/v1beta/models/anthropic/claude-sonnet-4-5', { headers: { 'x-goog-api-key': USER_KEY } }, env);
    expect(await one.json()).toMatchObject({ name: 'models/anthropic/claude-sonnet-4-5', supportedGenerationMethods: expect.arrayContaining(['countTokens']) });
  });
});
