import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { MAX_REQUEST_BYTES } from '../../../src/middleware/body-limit';
import { makeEnv, postJson, USER_KEY, userHeaders } from '../helpers/env';
import { forbidUpstream, mockUpstream } from '../helpers/fetch';
import { keysOf, testConfig, uniqueProviderId, VAULT_TOKEN } from '../helpers/vault';
import { anthropicError, geminiError, openaiError } from '../helpers/wire';

afterEach(() => {
  vi.restoreAllMocks();
});

const AIG_TOKEN = 'aig-token-for-error-tests';
const chat = (model: string) => ({ model, messages: [{ role: 'user', content: 'hi' }] });

/** The test vault plus one single-key provider of each protocol under fresh ids (key state starts clean). */
function freshProviders() {
  const config = testConfig();
  const ids = { openai: uniqueProviderId('oa'), anthropic: uniqueProviderId('an'), gemini: uniqueProviderId('ge') };
  config.providers[ids.openai] = { ...config.providers.groq, keys: [{ key: 'gsk-key-error-tests-1' }] };
  config.providers[ids.anthropic] = { ...config.providers.anthropic, keys: [{ key: 'sk-ant-key-error-tests-1' }] };
  config.providers[ids.gemini] = { ...config.providers.gemini, keys: [{ key: 'AIza-key-error-tests-1' }] };
  return { config, ids };
}

/** Everything secret a response must never show. */
function secrets(config: ReturnType<typeof testConfig>) {
  return [...keysOf(config), USER_KEY, VAULT_TOKEN, AIG_TOKEN];
}

async function expectNoSecret(res: Response, config: ReturnType<typeof testConfig>) {
  const text = await res.clone().text();
  const headers = JSON.stringify([...res.headers]);
  for (const secret of secrets(config)) {
    expect(text).not.toContain(secret);
    expect(headers).not.toContain(secret);
  }
}

describe('the gateway error shape', () => {
  it.each([
    ['400 bad body', '/groq/v1/chat/completions', { method: 'POST', headers: userHeaders(), body: '{' }, 400, 'invalid_request_error'],
    ['401 no credential', '/v1/providers', {}, 401, 'authentication_error'],
    ['403 not allowed', '/openai/v1/chat/completions', postJson(chat('gpt-4o-mini'), userHeaders('sy-groq-only-key')), 403, 'permission_error'],
    ['404 unknown provider', '/nope/v1/chat/completions', postJson(chat('m')), 404, 'not_found_error'],
    ['404 unknown model', '/groq/v1/chat/completions', postJson(chat('m')), 404, 'not_found_error'],
    ['404 no route', '/v2/whatever', {}, 404, 'not_found_error'],
  ])('%s is {"error":{"message","type","code"}} with the right status and type', async (_, path, init, status, type) => {
    const { calls } = forbidUpstream();
    const config = testConfig();
    const env = await makeEnv({
      config,
      users: { tester: { key: USER_KEY }, groqOnly: { key: 'sy-groq-only-key', providers: ['groq'] } },
    });
    const res = await app.request(path, init, env);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    await expectNoSecret(res, config);
    const body = await res.json<{ error: Record<string, unknown> }>();
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'type']);
    expect(body.error.type).toBe(type);
    expect(typeof body.error.message).toBe('string');
    expect(typeof body.error.code).toBe('string');
    expect(calls).toHaveLength(0);
  });

  it('413 for a request body over the limit, before anything is sent', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    const big = JSON.stringify({ ...chat('llama-3.3-70b-versatile'), padding: 'x'.repeat(MAX_REQUEST_BYTES) });
    const res = await app.request('/groq/v1/chat/completions', { method: 'POST', headers: userHeaders(), body: big }, env);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'request_too_large' } });
    expect(calls).toHaveLength(0);
  }, 30_000); // a body of MAX_REQUEST_BYTES takes seconds on a loaded machine

  it("a store's failure is a 503 naming the store that hides its detail (README, 'When a store fails')", async () => {
    forbidUpstream();
    const env = await makeEnv();
    vi.spyOn(env.KV_AI_PROXY, 'get').mockRejectedValue(new Error('KV exploded near gsk-key-groq-1'));
    const res = await app.request('/v1/providers', { headers: userHeaders() }, env);
    expect(res.status).toBe(503);
    const body = await res.json<{ error: { message: string; type: string; code: string } }>();
    expect(body.error.code).toBe('store_unavailable');
    expect(body.error.message).toContain('(KV)');
    expect(body.error.message).not.toContain('exploded');
    expect(body.error.message).not.toContain('gsk-key');
  });

  it('an unexpected failure is a 500 that hides its detail', async () => {
    forbidUpstream();
    const env = await makeEnv();
    vi.spyOn(crypto.subtle, 'digest').mockRejectedValue(new Error('digest exploded near gsk-key-groq-1'));
    const res = await app.request('/v1/providers', { headers: userHeaders() }, env);
    expect(res.status).toBe(500);
    const body = await res.json<{ error: { message: string; type: string } }>();
    expect(body.error.type).toBe('api_error');
    expect(body.error.message).not.toContain('exploded');
    expect(body.error.message).not.toContain('gsk-key');
  });
});

describe('upstream errors pass through with their status and body', () => {
  it.each([
    ['OpenAI-style 400', 'openai', () => openaiError(400, "'messages' must contain at least one message", 'invalid_request_error', null), 400],
    [
      'OpenAI-style 404 model',
      'openai',
      () => openaiError(404, 'The model `llama-3.3-70b-versatile` does not exist or you do not have access to it.', 'invalid_request_error', 'model_not_found'),
      404,
    ],
    [
      'Groq 429 with Retry-After',
      'openai',
      () => {
        const res = openaiError(
          429,
          'Rate limit reached for model `llama-3.3-70b-versatile` on tokens per minute (TPM): Limit 6000, Used 5800, Requested 400.',
          'tokens',
          'rate_limit_exceeded',
        );
        res.headers.set('retry-after', '7');
        return res;
      },
      429,
    ],
    ['Anthropic 529 overloaded', 'anthropic', () => anthropicError(529, 'overloaded_error', 'Overloaded'), 529],
    ['Anthropic 400', 'anthropic', () => anthropicError(400, 'invalid_request_error', 'max_tokens: Field required'), 400],
    ['Gemini 400', 'gemini', () => geminiError(400, 'Invalid JSON payload received. Unknown name "foo": Cannot find field.', 'INVALID_ARGUMENT'), 400],
    ['Gemini 503', 'gemini', () => geminiError(503, 'The model is overloaded. Please try again later.', 'UNAVAILABLE'), 503],
  ] as const)('%s', async (_, protocol, answer, status) => {
    const expected = await answer().text();
    const { calls } = mockUpstream(() => answer());
    const { config, ids } = freshProviders();
    const env = await makeEnv({ config });
    const path = {
      openai: `/${ids.openai}/v1/chat/completions`,
      anthropic: `/${ids.anthropic}/v1/messages`,
      gemini: `/${ids.gemini}/v1beta/models/gemini-2.0-flash:generateContent`,
    }[protocol];
    const body =
      protocol === 'gemini'
        ? { contents: [{ parts: [{ text: 'hi' }] }] }
        : { ...chat(protocol === 'anthropic' ? 'claude-sonnet-4-5' : 'llama-3.3-70b-versatile'), max_tokens: 8 };
    const res = await app.request(path, postJson(body), env);
    expect(res.status).toBe(status);
    expect(await res.text()).toBe(expected);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    if (status === 429) expect(res.headers.get('retry-after')).toBe('7');
    expect(calls).toHaveLength(1);
  });

  it('a non-JSON upstream error (an HTML 502 page) becomes the gateway shape with the upstream status', async () => {
    mockUpstream(() => new Response('<html><body><h1>502 Bad Gateway</h1></body></html>', { status: 502, headers: { 'content-type': 'text/html' } }));
    const { config, ids } = freshProviders();
    const env = await makeEnv({ config });
    const res = await app.request(`/${ids.openai}/v1/chat/completions`, postJson(chat('llama-3.3-70b-versatile')), env);
    expect(res.status).toBe(502);
    const body = await res.json<{ error: { message: string; type: string } }>();
    expect(body.error.type).toBe('upstream_error');
    expect(body.error.message).toContain(`provider "${ids.openai}" answered HTTP 502`);
  });

  it('an unreachable upstream is a 502 in the gateway shape', async () => {
    mockUpstream(() => {
      throw new TypeError('Network connection lost.');
    });
    const { config, ids } = freshProviders();
    const env = await makeEnv({ config });
    const res = await app.request(`/${ids.openai}/v1/chat/completions`, postJson(chat('llama-3.3-70b-versatile')), env);
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: { type: 'upstream_error', code: 'upstream_unreachable' } });
  });

  it('an upstream error that echoes the provider key (or the gateway token) never shows it', async () => {
    mockUpstream((call) =>
      openaiError(
        401,
        `Invalid API Key: ${call.headers.get('authorization')!.slice(7)} (gateway auth ${AIG_TOKEN})`,
        'invalid_request_error',
        'invalid_api_key',
      ),
    );
    const { config, ids } = freshProviders();
    const env = await makeEnv({ config, vars: { CLOUDFLARE_AIG_TOKEN: AIG_TOKEN } });
    const res = await app.request(`/${ids.openai}/v1/chat/completions`, postJson(chat('llama-3.3-70b-versatile')), env);
    expect(res.status).toBe(401);
    expect((await res.clone().json<{ error: { message: string } }>()).error.message).toContain('Invalid API Key');
    await expectNoSecret(res, config);
  });
});
