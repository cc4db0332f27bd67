import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { makeEnv, USER_KEY, userHeaders } from '../helpers/env';
import { mockUpstream, type UpstreamCall } from '../helpers/fetch';
import { mockProviders, providerAnswer } from '../helpers/stand-in';
import { testConfig } from '../helpers/vault';

// Direct mode (no AI Gateway): the provider's own endpoint and auth, the client's body untouched.

afterEach(() => {
  vi.restoreAllMocks();
});

/** What a client typically sends besides its body: credentials, cookies, Cloudflare and proxy headers. */
const CLIENT_NOISE = {
  cookie: 'session=abc',
  'cf-connecting-ip': '203.0.113.7',
  'cf-ray': '8f00aa11bb22cc33-CDG',
  'cf-ipcountry': 'FR',
  'x-forwarded-for': '203.0.113.7',
  'x-forwarded-proto': 'https',
  'x-real-ip': '203.0.113.7',
  origin: 'https://app.example',
  referer: 'https://app.example/chat',
  'x-custom-trace': 'trace-1',
  'user-agent': 'OpenAI/JS 6.49.0',
};

function send(path: string, body: BodyInit, headers: Record<string, string> = {}) {
  return (env: Awaited<ReturnType<typeof makeEnv>>) =>
    app.request(path, { method: 'POST', headers: { ...userHeaders(), ...CLIENT_NOISE, ...headers }, body }, env);
}

const headerNames = (call: UpstreamCall) => [...call.headers.keys()].sort();

describe.each([
  [
    'chat/completions',
    '/groq/v1/chat/completions',
    'https://api.groq.com/openai/v1/chat/completions',
    'gsk-key-groq-1',
    '{ "model" : "llama-3.3-70b-versatile",\n  "messages": [ {"role":"user","content":"héllo"} ], "temperature": 0.7 }',
    'chat.completion',
  ],
  [
    'completions',
    '/openai/v1/completions',
    'https://api.openai.com/v1/completions',
    'sk-key-openai-1',
    '{"model":"gpt-3.5-turbo-instruct","prompt":"Say hello","max_tokens":5}',
    'text_completion',
  ],
  [
    'embeddings',
    '/openai/v1/embeddings',
    'https://api.openai.com/v1/embeddings',
    'sk-key-openai-1',
    '{"model":"text-embedding-3-small","input":["a","b"],"encoding_format":"float"}',
    'list',
  ],
  [
    'images/generations',
    '/openai/v1/images/generations',
    'https://api.openai.com/v1/images/generations',
    'sk-key-openai-1',
    '{"model":"dall-e-3","prompt":"a red fox","n":1,"size":"1024x1024"}',
    undefined,
  ],
  [
    'moderations',
    '/openai/v1/moderations',
    'https://api.openai.com/v1/moderations',
    'sk-key-openai-1',
    '{"model":"omni-moderation-latest","input":"hello"}',
    undefined,
  ],
  [
    'Gemini OpenAI-compatible chat',
    '/gemini/v1beta/openai/chat/completions',
    'https://generativelanguage.googleapis.com/v1beta/openai/chat/completions',
    undefined,
    '{"model":"gemini-2.0-flash","messages":[{"role":"user","content":"hi"}]}',
    'chat.completion',
  ],
])('%s (OpenAI protocol family)', (_, path, url, key, body, object) => {
  it('goes to the provider URL with the provider key, and the client body byte for byte', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    const res = await send(path, body)(env);
    expect(res.status).toBe(200);
    if (object) expect(await res.json()).toMatchObject({ object });
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(call.url).toBe(url);
    expect(call.method).toBe('POST');
    expect(call.text()).toBe(body);
    if (key) {
      expect(call.headers.get('authorization')).toBe(`Bearer ${key}`);
      expect(headerNames(call)).toEqual(['authorization', 'content-type']);
    } else {
      expect(call.headers.get('x-goog-api-key')).toBe('AIza-key-gemini-1');
      expect(headerNames(call)).toEqual(['content-type', 'x-goog-api-key']);
    }
    expect(call.headers.get('content-type')).toBe('application/json');
    // Request headers go upstream from an allow-list only: the client's user agent and its own headers stay here.
    expect(call.headers.has('user-agent')).toBe(false);
  });
});

describe('audio', () => {
  it('audio/speech: JSON in, the audio bytes and their content type out', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    const body = '{"model":"tts-1","input":"Hello","voice":"alloy","response_format":"mp3"}';
    const res = await send('/openai/v1/audio/speech', body)(env);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([0xff, 0xf3, 0x44, 0xc4, 0x00]));
    expect(calls[0]!.url).toBe('https://api.openai.com/v1/audio/speech');
    expect(calls[0]!.text()).toBe(body);
  });

  it('audio/transcriptions: the multipart body and its boundary pass byte for byte', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    const audio = new Uint8Array(4096).map((_, i) => (i * 31 + 7) % 256);
    const form = new FormData();
    form.set('model', 'whisper-large-v3');
    form.set('response_format', 'json');
    form.set('file', new File([audio], 'speech.mp3', { type: 'audio/mpeg' }));
    const encoded = new Request('http://x/', { method: 'POST', body: form });
    const contentType = encoded.headers.get('content-type')!;
    const bytes = new Uint8Array(await encoded.arrayBuffer());
    expect(contentType).toMatch(/^multipart\/form-data; boundary=/);

    const res = await send('/groq/v1/audio/transcriptions', bytes, { 'content-type': contentType })(env);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ text: 'Hello from the stand-in.' });
    const call = calls[0]!;
    expect(call.url).toBe('https://api.groq.com/openai/v1/audio/transcriptions');
    expect(call.headers.get('content-type')).toBe(contentType);
    expect(call.headers.get('authorization')).toBe('Bearer gsk-key-groq-1');
    expect(call.body).toEqual(bytes);
  });
});

describe('Anthropic native /anthropic/v1/messages', () => {
  const body = '{"model":"claude-sonnet-4-5","max_tokens":256,"system":"Be brief.","messages":[{"role":"user","content":"Hello"}]}';

  it('goes to api.anthropic.com/v1/messages with x-api-key and anthropic-version, no Authorization', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    const res = await send('/anthropic/v1/messages', body, { 'anthropic-beta': 'prompt-caching-2024-07-31' })(env);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ type: 'message', content: [{ type: 'text' }], stop_reason: 'end_turn' });
    const call = calls[0]!;
    expect(call.url).toBe('https://api.anthropic.com/v1/messages');
    expect(call.text()).toBe(body);
    expect(call.headers.get('x-api-key')).toBe('sk-ant-key-anthropic-1');
    expect(call.headers.get('anthropic-version')).toBe('2023-06-01');
    expect(call.headers.get('anthropic-beta')).toBe('prompt-caching-2024-07-31');
    expect(headerNames(call)).toEqual(['anthropic-beta', 'anthropic-version', 'content-type', 'x-api-key']);
  });

  it('a client pinning anthropic-version keeps it; a client x-api-key never goes upstream', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    await send('/anthropic/v1/messages', body, { 'anthropic-version': '2024-01-01', 'x-api-key': 'client-supplied-key' })(env);
    expect(calls[0]!.headers.get('anthropic-version')).toBe('2024-01-01');
    expect(calls[0]!.headers.get('x-api-key')).toBe('sk-ant-key-anthropic-1');
  });
});

describe('Gemini native /gemini/v1beta/models/{model}:…', () => {
  const body = '{"contents":[{"role":"user","parts":[{"text":"Hello"}]}],"generationConfig":{"temperature":0.2,"maxOutputTokens":64}}';

  it(':generateContent goes to generativelanguage.googleapis.com with x-goog-api-key', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    const res = await send('/gemini/v1beta/models/gemini-2.0-flash:generateContent', body)(env);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ candidates: [{ finishReason: 'STOP' }], usageMetadata: { totalTokenCount: 10 } });
    const call = calls[0]!;
    expect(call.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:generateContent');
    expect(call.text()).toBe(body);
    expect(call.headers.get('x-goog-api-key')).toBe('AIza-key-gemini-1');
    expect(headerNames(call)).toEqual(['content-type', 'x-goog-api-key']);
  });

  it(':streamGenerateContent?alt=sse keeps its query and streams the events back', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    const res = await send('/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse', body)(env);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const text = await res.text();
    const events = text
      .split('\r\n\r\n')
      .filter(Boolean)
      .map((e) => JSON.parse(e.replace(/^data: /, '')));
    expect(events.map((e) => e.candidates[0].content.parts[0].text)).toEqual(['Hel', 'lo']);
    expect(calls[0]!.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse');
  });

  it(':embedContent of an embedding model', async () => {
    const { calls } = mockUpstream(() => new Response('{"embedding":{"values":[0.1,0.2]}}', { headers: { 'content-type': 'application/json' } }));
    const env = await makeEnv();
    const res = await send('/gemini/v1beta/models/text-embedding-004:embedContent', '{"content":{"parts":[{"text":"hi"}]}}')(env);
    expect(res.status).toBe(200);
    expect(calls[0]!.url).toBe('https://generativelanguage.googleapis.com/v1beta/models/text-embedding-004:embedContent');
  });
});

describe('what never goes upstream', () => {
  it("the client's gateway key, cookies, cf-* and forwarding headers never leave; the provider key replaces them", async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    await send('/groq/v1/chat/completions', '{"model":"llama-3.3-70b-versatile","messages":[{"role":"user","content":"hi"}]}', {
      'cf-aig-authorization': 'Bearer client-chosen',
      'x-goog-api-key': 'client-goog-key',
      'proxy-authorization': 'Basic abc',
      connection: 'keep-alive',
    })(env);
    const sent = JSON.stringify([...calls[0]!.headers]);
    for (const secret of [USER_KEY, 'session=abc', '203.0.113.7', 'client-chosen', 'client-goog-key', 'Basic abc', '8f00aa11bb22cc33']) {
      expect(sent).not.toContain(secret);
    }
    expect(calls[0]!.headers.get('authorization')).toBe('Bearer gsk-key-groq-1');
  });

  it('a provider without a gatewayEndpoint is called directly even when the AI Gateway token is set', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv({ vars: { CLOUDFLARE_AIG_TOKEN: 'aig-token-1', CLOUDFLARE_ACCOUNT_ID: 'acc-1' } });
    await send('/groq/v1/chat/completions', '{"model":"llama-3.3-70b-versatile","messages":[{"role":"user","content":"hi"}]}')(env);
    expect(calls[0]!.url).toBe('https://api.groq.com/openai/v1/chat/completions');
    expect(calls[0]!.headers.has('cf-aig-authorization')).toBe(false);
  });

  it('the answer reaches the client as the provider sent it (status, content type, body)', async () => {
    const answer = providerAnswer({ url: 'https://x/chat/completions', json: () => ({ model: 'llama-3.3-70b-versatile' }) } as UpstreamCall);
    const expected = await answer.clone().text();
    mockUpstream(() => answer);
    const env = await makeEnv({ config: testConfig() });
    const res = await send('/groq/v1/chat/completions', '{"model":"llama-3.3-70b-versatile","messages":[{"role":"user","content":"hi"}]}')(env);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe(expected);
  });
});

describe('a model named in the AI Gateway form', () => {
  const body = (model: string) => `{"model":"${model}","messages":[{"role":"user","content":"hi"}],"temperature":0.5}`;

  it('reaches a direct provider as its own id, the rest of the body kept', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv();
    const res = await send('/groq/v1/chat/completions', body('groq/llama-3.3-70b-versatile'))(env);
    expect(res.status).toBe(200);
    expect(calls[0]!.json()).toEqual({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'hi' }], temperature: 0.5 });
  });

  it('leaves ids that only look prefixed untouched, byte for byte', async () => {
    const { calls } = mockProviders();
    const config = testConfig();
    (config.providers.groq!.models as object[]).push({ id: 'groq/compound' });
    const env = await makeEnv({ config });
    await send('/groq/v1/chat/completions', body('groq/compound'))(env);
    await send('/groq/v1/chat/completions', body('openai/gpt-oss-120b'))(env);
    expect(calls.map((c) => c.text())).toEqual([body('groq/compound'), body('openai/gpt-oss-120b')]);
  });
});
