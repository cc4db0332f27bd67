import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { makeEnv, postJson, userHeaders } from '../helpers/env';
import { forbidUpstream } from '../helpers/fetch';
import { mockProviders } from '../helpers/stand-in';
import { GATEWAY_COMPAT, testConfig, uniqueProviderId } from '../helpers/vault';

// Forwarding through Cloudflare AI Gateway: the URL that really goes out (with `{account}` substituted,
// the earlier Worker's defect), the model prefix on the unified endpoint, and the gateway token.

afterEach(() => {
  vi.restoreAllMocks();
});

const ACCOUNT = '0123456789abcdef0123456789abcdef';
const AIG_TOKEN = 'aig-token-very-secret';
const GATEWAY = `https://gateway.ai.cloudflare.com/v1/${ACCOUNT}/default`;
const gatewayVars = { CLOUDFLARE_ACCOUNT_ID: ACCOUNT, CLOUDFLARE_AIG_TOKEN: AIG_TOKEN };

/** The test vault with every provider reached through the gateway's unified `compat` endpoint. */
function compatConfig() {
  const config = testConfig();
  for (const provider of Object.values(config.providers)) provider.gatewayEndpoint = GATEWAY_COMPAT;
  config.providers.groq!.gatewayModelPrefix = 'groq';
  config.providers.groq!.models = [
    ...(config.providers.groq!.models as object[]),
    // Groq names some of its own models with a `groq/` prefix.
    { id: 'groq/compound', usage: 'chat' },
  ];
  return config;
}

const chat = (model: string) => ({ model, messages: [{ role: 'user', content: 'hi' }], temperature: 0.3, stream: false });

function expectNoTemplate(url: string) {
  expect(url).not.toContain('{');
  expect(url).not.toContain('%7B');
  expect(url).not.toContain('%7b');
  expect(url).toContain(ACCOUNT);
}

describe('unified compat endpoint', () => {
  it('chat/completions: {account} substituted in the real URL, model prefixed, both auth headers', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv({ config: compatConfig(), vars: gatewayVars });
    const res = await app.request('/groq/v1/chat/completions', postJson(chat('llama-3.3-70b-versatile')), env);
    expect(res.status).toBe(200);
    const call = calls[0]!;
    expect(call.url).toBe(`${GATEWAY}/compat/chat/completions`);
    expectNoTemplate(call.url);
    expect(call.method).toBe('POST');
    expect(call.json()).toEqual({ ...chat('llama-3.3-70b-versatile'), model: 'groq/llama-3.3-70b-versatile' });
    expect(call.headers.get('authorization')).toBe('Bearer gsk-key-groq-1');
    expect(call.headers.get('cf-aig-authorization')).toBe(`Bearer ${AIG_TOKEN}`);
    expect(call.headers.get('content-type')).toBe('application/json');
  });

  it('a model already in the gateway form is never prefixed twice', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv({ config: compatConfig(), vars: gatewayVars });
    const res = await app.request('/groq/v1/chat/completions', postJson(chat('groq/llama-3.3-70b-versatile')), env);
    expect(res.status).toBe(200);
    expect(calls[0]!.json().model).toBe('groq/llama-3.3-70b-versatile');
  });

  it('a model id with a slash of its own gets the prefix once', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv({ config: compatConfig(), vars: gatewayVars });
    await app.request('/groq/v1/chat/completions', postJson(chat('openai/gpt-oss-120b')), env);
    expect(calls[0]!.json().model).toBe('groq/openai/gpt-oss-120b');
  });

  it('a vault model whose own id starts with the prefix (groq/compound) is still prefixed', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv({ config: compatConfig(), vars: gatewayVars });
    await app.request('/groq/v1/chat/completions', postJson(chat('groq/compound')), env);
    expect(calls[0]!.json().model).toBe('groq/groq/compound');
    await app.request('/groq/v1/chat/completions', postJson(chat('groq/groq/compound')), env);
    expect(calls[1]!.json().model).toBe('groq/groq/compound');
  });

  it('the prefix defaults to the provider table slug (custom-sambanova), and to custom-<id> off the table', async () => {
    const { calls } = mockProviders();
    const config = compatConfig();
    config.providers['local-llm'] = {
      protocol: 'openai',
      endpoint: 'https://llm.internal.example/v1',
      gatewayEndpoint: GATEWAY_COMPAT,
      keys: [{ key: 'local-key-1' }],
      models: [{ id: 'qwen2.5-7b' }],
    };
    const env = await makeEnv({ config, vars: gatewayVars });
    await app.request('/sambanova/v1/chat/completions', postJson(chat('Meta-Llama-3.3-70B-Instruct')), env);
    await app.request('/local-llm/v1/chat/completions', postJson(chat('qwen2.5-7b')), env);
    expect(calls.map((c) => [c.url, c.json().model])).toEqual([
      [`${GATEWAY}/compat/chat/completions`, 'custom-sambanova/Meta-Llama-3.3-70B-Instruct'],
      [`${GATEWAY}/compat/chat/completions`, 'custom-local-llm/qwen2.5-7b'],
    ]);
  });

  it('chat/completions of an Anthropic or Gemini provider through compat authenticates with Authorization: Bearer', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv({ config: compatConfig(), vars: gatewayVars });
    await app.request('/anthropic/v1/chat/completions', postJson(chat('claude-sonnet-4-5')), env);
    await app.request('/gemini/v1beta/openai/chat/completions', postJson(chat('gemini-2.0-flash')), env);
    const anthropic = calls[0]!;
    expect(anthropic.url).toBe(`${GATEWAY}/compat/chat/completions`);
    expect(anthropic.json().model).toBe('anthropic/claude-sonnet-4-5');
    expect(anthropic.headers.get('authorization')).toBe('Bearer sk-ant-key-anthropic-1');
    expect(anthropic.headers.get('cf-aig-authorization')).toBe(`Bearer ${AIG_TOKEN}`);
    expect(anthropic.headers.has('x-api-key')).toBe(false);
    const gemini = calls[1]!;
    expect(gemini.url).toBe(`${GATEWAY}/compat/chat/completions`);
    expect(gemini.json().model).toBe('google-ai-studio/gemini-2.0-flash');
    expect(gemini.headers.get('authorization')).toBe('Bearer AIza-key-gemini-1');
    expect(gemini.headers.has('x-goog-api-key')).toBe(false);
  });

  it.each([
    ['embeddings', '/groq/v1/embeddings', { model: 'llama-3.3-70b-versatile', input: 'hi' }, `${GATEWAY}/groq/embeddings`],
    ['images/generations', '/openai/v1/images/generations', { model: 'dall-e-3', prompt: 'fox' }, `${GATEWAY}/openai/images/generations`],
    ['audio/speech', '/openai/v1/audio/speech', { model: 'tts-1', input: 'hi', voice: 'alloy' }, `${GATEWAY}/openai/audio/speech`],
    ['moderations', '/openai/v1/moderations', { model: 'omni-moderation-latest', input: 'hi' }, `${GATEWAY}/openai/moderations`],
    ['completions', '/openai/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'hi' }, `${GATEWAY}/openai/completions`],
    [
      'Anthropic messages',
      '/anthropic/v1/messages',
      { model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] },
      `${GATEWAY}/anthropic/v1/messages`,
    ],
    [
      'Gemini generateContent',
      '/gemini/v1beta/models/gemini-2.0-flash:generateContent',
      { contents: [{ parts: [{ text: 'hi' }] }] },
      `${GATEWAY}/google-ai-studio/v1beta/models/gemini-2.0-flash:generateContent`,
    ],
  ])('%s goes to the provider-native gateway URL, body untouched', async (_, path, body, url) => {
    const { calls } = mockProviders();
    const env = await makeEnv({ config: compatConfig(), vars: gatewayVars });
    const text = JSON.stringify(body);
    const res = await app.request(path, { method: 'POST', headers: userHeaders(), body: text }, env);
    expect(res.status).toBe(200);
    const call = calls[0]!;
    expect(call.url).toBe(url);
    expectNoTemplate(call.url);
    expect(call.text()).toBe(text);
    expect(call.headers.get('cf-aig-authorization')).toBe(`Bearer ${AIG_TOKEN}`);
  });

  it('native operations keep the provider auth: x-api-key + anthropic-version, x-goog-api-key', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv({ config: compatConfig(), vars: gatewayVars });
    await app.request('/anthropic/v1/messages', postJson({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }), env);
    await app.request('/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse', postJson({ contents: [] }), env);
    expect(calls[0]!.headers.get('x-api-key')).toBe('sk-ant-key-anthropic-1');
    expect(calls[0]!.headers.get('anthropic-version')).toBe('2023-06-01');
    expect(calls[1]!.url).toBe(`${GATEWAY}/google-ai-studio/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse`);
    expect(calls[1]!.headers.get('x-goog-api-key')).toBe('AIza-key-gemini-1');
  });

  it('audio/transcriptions: the multipart body passes through the gateway byte for byte', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv({ config: compatConfig(), vars: gatewayVars });
    const form = new FormData();
    form.set('model', 'whisper-large-v3');
    form.set('file', new File([new Uint8Array(1000).map((_, i) => i % 251)], 'a.wav', { type: 'audio/wav' }));
    const encoded = new Request('http://x/', { method: 'POST', body: form });
    const contentType = encoded.headers.get('content-type')!;
    const bytes = new Uint8Array(await encoded.arrayBuffer());
    const res = await app.request(
      '/groq/v1/audio/transcriptions',
      { method: 'POST', headers: { ...userHeaders(), 'content-type': contentType }, body: bytes },
      env,
    );
    expect(res.status).toBe(200);
    expect(calls[0]!.url).toBe(`${GATEWAY}/groq/audio/transcriptions`);
    expect(calls[0]!.headers.get('content-type')).toBe(contentType);
    expect(calls[0]!.body).toEqual(bytes);
  });
});

describe('provider-native gateway endpoints', () => {
  it.each([
    [
      'groq',
      `https://gateway.ai.cloudflare.com/v1/{account}/default/groq`,
      '/groq/v1/chat/completions',
      'llama-3.3-70b-versatile',
      `${GATEWAY}/groq/chat/completions`,
    ],
    [
      'mistral',
      `https://gateway.ai.cloudflare.com/v1/{account}/default/mistral/`,
      '/mistral/v1/chat/completions',
      'mistral-small-latest',
      `${GATEWAY}/mistral/v1/chat/completions`,
    ],
    [
      'openai',
      `https://gateway.ai.cloudflare.com/v1/{account}/default/openai`,
      '/openai/v1/chat/completions',
      'gpt-4o-mini',
      `${GATEWAY}/openai/chat/completions`,
    ],
  ])('%s: operations append to the gateway URL; the model is not renamed', async (id, gatewayEndpoint, path, model, url) => {
    const { calls } = mockProviders();
    const config = testConfig();
    config.providers[id]!.gatewayEndpoint = gatewayEndpoint;
    const env = await makeEnv({ config, vars: gatewayVars });
    const res = await app.request(path, postJson(chat(model)), env);
    expect(res.status).toBe(200);
    expect(calls[0]!.url).toBe(url);
    expect(calls[0]!.json().model).toBe(model);
    expect(calls[0]!.headers.get('cf-aig-authorization')).toBe(`Bearer ${AIG_TOKEN}`);
  });

  it('an Anthropic gateway URL gets the v1 path', async () => {
    const { calls } = mockProviders();
    const config = testConfig();
    config.providers.anthropic!.gatewayEndpoint = 'https://gateway.ai.cloudflare.com/v1/{account}/default/anthropic';
    const env = await makeEnv({ config, vars: gatewayVars });
    await app.request('/anthropic/v1/messages', postJson({ model: 'claude-sonnet-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }), env);
    expect(calls[0]!.url).toBe(`${GATEWAY}/anthropic/v1/messages`);
  });
});

describe('when the gateway is not (fully) configured', () => {
  it('without CLOUDFLARE_AIG_TOKEN a gatewayEndpoint is ignored: direct call, no cf-aig-authorization', async () => {
    const { calls } = mockProviders();
    const env = await makeEnv({ config: compatConfig(), vars: { CLOUDFLARE_ACCOUNT_ID: ACCOUNT } });
    await app.request('/groq/v1/chat/completions', postJson(chat('llama-3.3-70b-versatile')), env);
    expect(calls[0]!.url).toBe('https://api.groq.com/openai/v1/chat/completions');
    expect(calls[0]!.json().model).toBe('llama-3.3-70b-versatile');
    expect(calls[0]!.headers.has('cf-aig-authorization')).toBe(false);
  });

  it('a {account} template without CLOUDFLARE_ACCOUNT_ID is an error naming the setting, and nothing is sent', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv({ config: compatConfig(), vars: { CLOUDFLARE_AIG_TOKEN: AIG_TOKEN } });
    const res = await app.request('/groq/v1/chat/completions', postJson(chat('llama-3.3-70b-versatile')), env);
    expect(res.status).toBeGreaterThanOrEqual(500);
    const body = await res.text();
    expect(JSON.parse(body).error.message).toContain('CLOUDFLARE_ACCOUNT_ID');
    expect(body).not.toContain(AIG_TOKEN);
    expect(calls).toHaveLength(0);
  });

  it('the gateway token never appears in a response, even an upstream error', async () => {
    mockProviders().spy.mockImplementation(
      async () =>
        new Response(JSON.stringify({ success: false, result: [], messages: [], error: [{ code: 2009, message: 'Unauthorized' }] }), {
          status: 401,
          headers: { 'content-type': 'application/json' },
        }),
    );
    // A provider of its own: the 401 puts its key to rest, which must not affect other tests.
    const config = compatConfig();
    const id = uniqueProviderId('aig');
    config.providers[id] = config.providers.groq!;
    const env = await makeEnv({ config, vars: gatewayVars });
    const res = await app.request(`/${id}/v1/chat/completions`, postJson(chat('llama-3.3-70b-versatile')), env);
    expect(res.status).toBe(401);
    const text = await res.text();
    expect(text).not.toContain(AIG_TOKEN);
    expect(text).not.toContain(ACCOUNT);
    expect(JSON.stringify([...res.headers])).not.toContain(AIG_TOKEN);
  });
});

it("a provider-native gateway URL gets the provider's own model id when the client used the gateway form", async () => {
  const { calls } = mockProviders();
  const config = testConfig();
  config.providers.groq!.gatewayEndpoint = 'https://gateway.ai.cloudflare.com/v1/{account}/default/groq';
  const env = await makeEnv({ config, vars: gatewayVars });
  await app.request('/groq/v1/chat/completions', postJson(chat('groq/llama-3.3-70b-versatile')), env);
  expect(calls[0]!.url).toBe(`${GATEWAY}/groq/chat/completions`);
  expect(calls[0]!.json().model).toBe('llama-3.3-70b-versatile');
});
