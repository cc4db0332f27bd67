import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import { makeEnv, postJson, userHeaders } from './helpers/env';
import { forbidUpstream, mockUpstream } from './helpers/fetch';
import { testConfig } from './helpers/vault';
import { completion, freshKeys } from './helpers/upstreams';

// Issue 9: the boundaries between users who share the operator's provider keys. Every test here
// failed on the gateway before the fix (the finding it covers is named in each describe).

afterEach(() => vi.restoreAllMocks());

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });
const RESTRICTED_KEY = 'sy-user-key-restricted-55aa';
const users = (restricted: Record<string, unknown> = {}) => ({
  tester: { key: 'sy-user-key-tester-0123456789' },
  restricted: {
    key: RESTRICTED_KEY,
    models: ['groq/llama-3.3-70b-versatile', 'openai/tts-1', 'openai/whisper-1', 'openrouter/*', 'gemini/text-embedding-004', 'gemini/gemini-2.0-flash'],
    ...restricted,
  },
});
const asRestricted = (extra: Record<string, string> = {}) => userHeaders(RESTRICTED_KEY, extra);

function configWith(extra: Record<string, Record<string, unknown>> = {}) {
  const config = testConfig();
  config.providers.openrouter = {
    protocol: 'openrouter',
    endpoint: 'https://openrouter.ai/api/v1',
    keys: [{ key: 'sk-or-key-openrouter-1' }],
    models: [{ id: 'meta-llama/llama-3.3-70b-instruct', usage: 'chat' }],
  };
  for (const [id, fields] of Object.entries(extra)) config.providers[id] = { ...config.providers[id], ...fields };
  return config;
}

async function expectRefused(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  const body = await res.json<{ error: { code: string; message: string } }>();
  expect(body.error.code).toBe(code);
  return body.error.message;
}

describe('finding: any method, any operation on the shared keys (deny by default)', () => {
  const legacy = (host: string) => userHeaders(undefined, { 'x-host-final': host });

  it.each([
    ['GET', 'api.openai.com', '/v1/files'],
    ['DELETE', 'api.openai.com', '/v1/files/file-abc123'],
    ['GET', 'api.openai.com', '/v1/chat/completions?limit=100'],
    ['GET', 'api.openai.com', '/v1/chat/completions/chatcmpl-abc'],
    ['DELETE', 'api.openai.com', '/v1/chat/completions/chatcmpl-abc'],
    ['GET', 'api.anthropic.com', '/v1/messages/batches/msgbatch_01/results'],
    ['POST', 'api.anthropic.com', '/v1/messages/batches'],
    ['POST', 'api.openai.com', '/v1/fine_tuning/jobs'],
    ['POST', 'api.openai.com', '/v1/batches'],
    ['POST', 'api.openai.com', '/v1/realtime/client_secrets'],
    ['PUT', 'api.openai.com', '/v1/chat/completions'],
    ['PATCH', 'api.groq.com', '/openai/v1/chat/completions'],
    ['POST', 'generativelanguage.googleapis.com', '/v1beta/models/gemini-2.0-flash:batchGenerateContent'],
    ['POST', 'generativelanguage.googleapis.com', '/v1beta/models/gemini-2.0-flash:predictLongRunning'],
    ['POST', 'generativelanguage.googleapis.com', '/v1beta/cachedContents'],
  ])('legacy form: %s %s%s is a 404 operation_not_supported and nothing is sent', async (method, host, path) => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    const init: RequestInit = { method, headers: legacy(host) };
    if (method !== 'GET' && method !== 'DELETE') init.body = JSON.stringify({ requests: [{ custom_id: 'a', params: chat('claude-opus-4') }] });
    const res = await app.request(path, init, env);
    await expectRefused(res, 404, 'operation_not_supported');
    expect(calls).toHaveLength(0);
  });

  it.each([
    ['POST', '/anthropic/v1/messages/batches'],
    ['POST', '/gemini/v1beta/models/gemini-2.0-flash:batchGenerateContent'],
    ['POST', '/gemini/v1beta/models/gemini-2.0-flash:predictLongRunning'],
    ['POST', '/openai/v1/realtime/client_secrets'],
    ['POST', '/openai/v1/realtime/sessions'],
    ['POST', '/openai/v1/fine_tuning/jobs'],
    ['POST', '/openai/v1/files'],
    ['POST', '/openai/v1/uploads'],
    ['POST', '/openai/v1/vector_stores'],
    ['POST', '/openai/v1/assistants'],
    ['POST', '/openai/v1/threads/runs'],
    ['POST', '/openai/v1/organization/admin_api_keys'],
    ['POST', '/openai/v1/images/variations'],
    ['POST', '/openai/v1/responses/resp_123/cancel'],
    ['GET', '/openai/v1/files'],
    ['GET', '/openai/v1/responses/resp_123'],
    ['DELETE', '/openai/v1/files/file-abc'],
    ['DELETE', '/openai/v1/models/ft:gpt-4o-mini:org::abc'],
    ['PUT', '/groq/v1/chat/completions'],
    ['GET', '/groq/v1/chat/completions'],
  ])('path form: %s %s is a 404 operation_not_supported and nothing is sent', async (method, path) => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    const init: RequestInit = { method, headers: userHeaders() };
    if (method !== 'GET' && method !== 'DELETE')
      init.body = JSON.stringify({ model: 'gpt-4o-mini', requests: [{ custom_id: 'a', params: chat('claude-opus-4') }] });
    const res = await app.request(path, init, env);
    await expectRefused(res, 404, 'operation_not_supported');
    expect(calls).toHaveLength(0);
  });

  it.each([
    ['/openai/v1/chat/completions', chat('gpt-4o-mini')],
    ['/openai/v1/completions', { model: 'gpt-3.5-turbo-instruct', prompt: 'hi' }],
    ['/openai/v1/embeddings', { model: 'text-embedding-3-small', input: 'hi' }],
    ['/openai/v1/images/generations', { model: 'dall-e-3', prompt: 'a fox' }],
    ['/openai/v1/audio/speech', { model: 'tts-1', input: 'hi', voice: 'alloy' }],
    ['/openai/v1/moderations', { input: 'hi' }],
    ['/openai/v1/responses', { model: 'gpt-4o-mini', input: 'hi' }],
    ['/anthropic/v1/messages', { ...chat('claude-sonnet-4-5'), max_tokens: 8 }],
    ['/anthropic/v1/messages/count_tokens', chat('claude-sonnet-4-5')],
    ['/gemini/v1beta/models/gemini-2.0-flash:generateContent', { contents: [{ parts: [{ text: 'hi' }] }] }],
    ['/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent', { contents: [{ parts: [{ text: 'hi' }] }] }],
    ['/gemini/v1beta/models/gemini-2.0-flash:countTokens', { contents: [{ parts: [{ text: 'hi' }] }] }],
    ['/gemini/v1beta/models/text-embedding-004:embedContent', { content: { parts: [{ text: 'hi' }] } }],
    [
      '/gemini/v1beta/models/text-embedding-004:batchEmbedContents',
      { requests: [{ model: 'models/text-embedding-004', content: { parts: [{ text: 'hi' }] } }] },
    ],
  ])('the operations of the table still go through: POST %s', async (path, body) => {
    const { calls } = mockUpstream(() => Response.json({}));
    const env = await makeEnv();
    const res = await app.request(path, postJson(body), env);
    expect(res.status).toBe(200);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.method).toBe('POST');
  });

  it('the legacy form forwards the operations of the table, GET models included', async () => {
    const { calls } = mockUpstream(() => Response.json({ object: 'list', data: [] }));
    const env = await makeEnv();
    const res = await app.request('/v1/models', { headers: legacy('api.openai.com') }, env);
    expect(res.status).toBe(200);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['GET https://api.openai.com/v1/models']);
  });

  it('a vault provider widens the table with "operations", the operator\'s explicit choice', async () => {
    const { calls } = mockUpstream(() => Response.json({ object: 'list', data: [] }));
    const env = await makeEnv({ config: configWith({ openai: { operations: ['files', 'POST batches'] } }), users: users() });
    expect((await app.request('/openai/v1/files', { headers: userHeaders() }, env)).status).toBe(200);
    expect((await app.request('/openai/v1/files/file-1/content', { headers: userHeaders() }, env)).status).toBe(200);
    expect((await app.request('/v1/files/file-1', { method: 'DELETE', headers: legacy('api.openai.com') }, env)).status).toBe(200);
    expect((await app.request('/openai/v1/batches', postJson({ input_file_id: 'file-1' }), env)).status).toBe(200);
    // "POST batches" widens POST only; `files` does not reach `files-other`.
    await expectRefused(await app.request('/openai/v1/batches', { headers: userHeaders() }, env), 404, 'operation_not_supported');
    await expectRefused(await app.request('/openai/v1/files-other', { headers: userHeaders() }, env), 404, 'operation_not_supported');
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'GET https://api.openai.com/v1/files',
      'GET https://api.openai.com/v1/files/file-1/content',
      'DELETE https://api.openai.com/v1/files/file-1',
      'POST https://api.openai.com/v1/batches',
    ]);
    // A widened operation has no model the gateway can read: a user with a models allow-list is refused.
    const res = await app.request('/openai/v1/files', { headers: asRestricted() }, env);
    await expectRefused(res, 403, 'model_uncertain');
    expect(calls).toHaveLength(4);
  });
});

describe('finding: model allow-lists bypassed where the model is not where the gateway looks', () => {
  it('a form-encoded body on a JSON operation is refused, nothing sent', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv({ config: configWith(), users: users() });
    const res = await app.request(
      '/openai/v1/audio/speech',
      { method: 'POST', headers: asRestricted({ 'content-type': 'application/x-www-form-urlencoded' }), body: 'model=gpt-4o-mini-tts&input=hi&voice=alloy' },
      env,
    );
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(calls).toHaveLength(0);
  });

  it('a form-encoded body on an upload operation is refused for a user with a models allow-list', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv({ config: configWith(), users: users() });
    const res = await app.request(
      '/openai/v1/audio/transcriptions',
      { method: 'POST', headers: asRestricted({ 'content-type': 'application/x-www-form-urlencoded' }), body: 'model=gpt-4o-transcribe&file=x' },
      env,
    );
    expect(res.status).toBe(403);
    expect(calls).toHaveLength(0);
  });

  const upload = (models: string[]) => {
    const form = new FormData();
    for (const model of models) form.append('model', model);
    form.append('file', new Blob([new Uint8Array([1, 2, 3])], { type: 'audio/wav' }), 'a.wav');
    return form;
  };

  it('multipart with two model parts is refused (403) before anything is sent', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv({ config: configWith(), users: users() });
    const res = await app.request(
      '/openai/v1/audio/transcriptions',
      { method: 'POST', headers: { authorization: `Bearer ${RESTRICTED_KEY}` }, body: upload(['whisper-1', 'gpt-4o-transcribe']) },
      env,
    );
    await expectRefused(res, 403, 'model_uncertain');
    expect(calls).toHaveLength(0);
  });

  it('an allowed upload reaches the provider as the gateway read it', async () => {
    const { calls } = mockUpstream(() => Response.json({ text: 'hi' }));
    const env = await makeEnv({ config: configWith(), users: users() });
    const res = await app.request(
      '/openai/v1/audio/transcriptions',
      { method: 'POST', headers: { authorization: `Bearer ${RESTRICTED_KEY}` }, body: upload(['whisper-1']) },
      env,
    );
    expect(res.status).toBe(200);
    const sent = await new Response(calls[0]!.body as Uint8Array<ArrayBuffer>, {
      headers: { 'content-type': calls[0]!.headers.get('content-type')! },
    }).formData();
    expect(sent.getAll('model')).toEqual(['whisper-1']);
    expect(sent.get('file')).toBeInstanceOf(File);
  });

  it('a multipart model outside the allow-list is refused', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv({ config: configWith(), users: users() });
    const res = await app.request(
      '/openai/v1/audio/transcriptions',
      { method: 'POST', headers: { authorization: `Bearer ${RESTRICTED_KEY}` }, body: upload(['gpt-4o-transcribe']) },
      env,
    );
    expect(res.status).toBe(403);
    expect(calls).toHaveLength(0);
  });

  it.each([
    ['models', { models: ['openai/gpt-5', 'anthropic/claude-opus-4'] }],
    ['route', { route: 'fallback' }],
    ['fallbacks', { fallbacks: [{ model: 'gpt-5' }] }],
    ['compound_custom', { compound_custom: { models: { answering_model: 'openai/gpt-oss-120b' } } }],
  ])('OpenRouter-style routing field %s is refused (403) for a user with a models allow-list', async (_, extra) => {
    const { calls } = forbidUpstream();
    const env = await makeEnv({ config: configWith(), users: users() });
    const res = await app.request('/openrouter/v1/chat/completions', postJson(chat('meta-llama/llama-3.3-70b-instruct', extra), asRestricted()), env);
    await expectRefused(res, 403, 'model_choice_not_allowed');
    expect(calls).toHaveLength(0);
  });

  it('the same fields are refused on the unified route', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv({ config: configWith(), users: users() });
    const res = await app.request(
      '/v1/chat/completions',
      postJson(chat('openrouter/meta-llama/llama-3.3-70b-instruct', { models: ['openai/gpt-5'] }), asRestricted()),
      env,
    );
    await expectRefused(res, 403, 'model_choice_not_allowed');
    expect(calls).toHaveLength(0);
  });

  it('and on /v1/responses, with the image_generation tool naming another model', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv({ config: configWith(), users: users() });
    const model = 'openrouter/meta-llama/llama-3.3-70b-instruct';
    const routed = await app.request('/v1/responses', postJson({ model, input: 'hi', models: ['openai/gpt-5'] }, asRestricted()), env);
    await expectRefused(routed, 403, 'model_choice_not_allowed');
    const tool = { model, input: 'hi', tools: [{ type: 'image_generation', model: 'gpt-image-1' }] };
    const tooled = await app.request('/v1/responses', postJson(tool, asRestricted()), env);
    await expectRefused(tooled, 403, 'model_choice_not_allowed');
    expect(calls).toHaveLength(0);
  });

  it('a user without an allow-list may still use routing fields', async () => {
    const { calls } = mockUpstream(() => Response.json(completion()));
    const env = await makeEnv({ config: configWith(), users: users() });
    const res = await app.request('/openrouter/v1/chat/completions', postJson(chat('meta-llama/llama-3.3-70b-instruct', { models: ['x/y'] })), env);
    expect(res.status).toBe(200);
    expect(calls[0]!.json().models).toEqual(['x/y']);
  });

  it('a JSON body with the model twice reaches the provider with only the model the gateway checked', async () => {
    const { calls } = mockUpstream(() => Response.json(completion()));
    const env = await makeEnv({ config: configWith(), users: users() });
    const body = '{"model":"gpt-4o","model":"llama-3.3-70b-versatile","messages":[{"role":"user","content":"hi"}]}';
    const res = await app.request('/groq/v1/chat/completions', { method: 'POST', headers: asRestricted(), body }, env);
    expect(res.status).toBe(200);
    expect(calls[0]!.text().match(/"model"/g)).toHaveLength(1);
    expect(calls[0]!.json().model).toBe('llama-3.3-70b-versatile');
    expect(calls[0]!.headers.get('content-type')).toBe('application/json');
  });

  it('Gemini: a nested model in batchEmbedContents or countTokens must be the model of the path', async () => {
    const { calls } = forbidUpstream();
    const env = await makeEnv({ config: configWith(), users: users() });
    const batch = { requests: [{ model: 'models/gemini-embedding-exp', content: { parts: [{ text: 'hi' }] } }] };
    const res = await app.request('/gemini/v1beta/models/text-embedding-004:batchEmbedContents', postJson(batch, asRestricted()), env);
    await expectRefused(res, 403, 'model_choice_not_allowed');
    const count = { generateContentRequest: { model: 'models/gemini-2.5-pro', contents: [{ parts: [{ text: 'hi' }] }] } };
    const counted = await app.request('/gemini/v1beta/models/gemini-2.0-flash:countTokens', postJson(count, asRestricted()), env);
    await expectRefused(counted, 403, 'model_choice_not_allowed');
    expect(calls).toHaveLength(0);
  });
});

describe('finding: one user can take a provider offline for everyone', () => {
  it('client headers reach the provider only from an allow-list', async () => {
    const { calls } = mockUpstream(() => Response.json(completion()));
    const env = await makeEnv();
    const hostile = {
      'openai-organization': 'org-attacker',
      'openai-project': 'proj_attacker',
      'x-goog-user-project': 'attacker-project',
      'x-http-method-override': 'DELETE',
      'x-method-override': 'DELETE',
      'x-stainless-arch': 'x64',
      'user-agent': 'curl/8',
      'x-custom': 'anything',
      'idempotency-key': 'k',
      'content-encoding': 'gzip',
      'cf-aig-cache-ttl': '3600',
      'cf-aig-metadata': '{"user":"x"}',
      'accept-encoding': 'br',
    };
    const res = await app.request(
      '/openai/v1/chat/completions',
      postJson(chat('gpt-4o-mini'), userHeaders(undefined, { ...hostile, accept: 'application/json', 'openai-beta': 'assistants=v2' })),
      env,
    );
    expect(res.status).toBe(200);
    const sent = calls[0]!.headers;
    for (const name of Object.keys(hostile)) expect(sent.has(name), name).toBe(false);
    expect([...sent.keys()].sort()).toEqual(['accept', 'authorization', 'content-type', 'openai-beta']);
  });

  it('provider response headers reach the client only from an allow-list', async () => {
    mockUpstream(() =>
      Response.json(completion(), {
        headers: {
          'openai-organization': 'org-operator',
          'openai-project': 'proj_operator',
          'anthropic-organization-id': 'org-uuid',
          'x-ratelimit-remaining-requests': '3',
          'x-ratelimit-limit-tokens': '100000',
          'access-control-allow-origin': '*',
          'access-control-allow-credentials': 'true',
          'x-request-id': 'req_provider',
          'openai-processing-ms': '12',
          'set-cookie': 'x=1',
          server: 'provider',
          'strict-transport-security': 'max-age=1',
          'retry-after': '3',
          'cache-control': 'public, max-age=3600',
        },
      }),
    );
    const env = await makeEnv({ vars: { CORS_ORIGINS: 'https://app.example' } });
    const res = await app.request(
      '/openai/v1/chat/completions',
      postJson(chat('gpt-4o-mini'), userHeaders(undefined, { origin: 'https://evil.example' })),
      env,
    );
    expect(res.status).toBe(200);
    for (const name of [
      'openai-organization',
      'openai-project',
      'anthropic-organization-id',
      'x-ratelimit-remaining-requests',
      'x-ratelimit-limit-tokens',
      'access-control-allow-origin',
      'access-control-allow-credentials',
      'openai-processing-ms',
      'set-cookie',
      'server',
      'strict-transport-security',
    ]) {
      expect(res.headers.has(name), name).toBe(false);
    }
    expect(res.headers.get('x-request-id')).not.toBe('req_provider');
    expect(res.headers.get('retry-after')).toBe('3');
    // A provider's caching never reaches a shared cache: the answer is this user's.
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-type')).toContain('application/json');
  });

  it('a 403 the request caused (the key still works) is answered to the client and rests no key', async () => {
    const keys = freshKeys('sk', 2);
    const config = testConfig();
    config.providers.openai = { ...config.providers.openai, keys: keys.map((key) => ({ key })) };
    const env = await makeEnv({ config });
    const { calls } = mockUpstream((call) => {
      if (call.method === 'GET') return Response.json({ object: 'list', data: [] });
      const body = call.json() as { model: string };
      if (body.model === 'omni-moderation-latest') {
        return Response.json(
          { error: { message: 'You do not have access to this model', type: 'invalid_request_error', code: 'model_not_found' } },
          { status: 403 },
        );
      }
      return Response.json(completion());
    });
    const denied = await app.request('/openai/v1/chat/completions', postJson(chat('omni-moderation-latest')), env);
    expect(denied.status).toBe(403);
    expect(denied.headers.get('x-switchyard-attempts')).toBe('1');
    // Both keys still serve: the next requests use each of them, none waits.
    const served = [];
    for (let i = 0; i < 4; i++) {
      const res = await app.request('/openai/v1/chat/completions', postJson(chat('gpt-4o-mini')), env);
      expect(res.status).toBe(200);
      served.push(calls.at(-1)!.headers.get('authorization'));
    }
    expect(new Set(served).size).toBe(2);
    expect(calls.filter((c) => c.method === 'POST' && (c.json() as { model: string }).model === 'omni-moderation-latest')).toHaveLength(1);
  });

  it('a 403 for which the key fails its own check too (GET models) rests the key, and the request fails over', async () => {
    const keys = freshKeys('sk', 2);
    const config = testConfig();
    config.providers.openai = { ...config.providers.openai, keys: keys.map((key) => ({ key })) };
    const env = await makeEnv({ config });
    const suspended = `Bearer ${keys[0]}`;
    const { calls } = mockUpstream((call) =>
      call.headers.get('authorization') === suspended
        ? Response.json({ error: { message: 'Your organization has been disabled', type: 'invalid_request_error', code: null } }, { status: 403 })
        : Response.json(completion()),
    );
    for (let i = 0; i < 4; i++) expect((await app.request('/openai/v1/chat/completions', postJson(chat('gpt-4o-mini')), env)).status).toBe(200);
    // One chat call and one check with the refused key, then it rests.
    expect(calls.filter((c) => c.headers.get('authorization') === suspended).map((c) => `${c.method} ${c.url}`)).toEqual([
      'POST https://api.openai.com/v1/chat/completions',
      'GET https://api.openai.com/v1/models',
    ]);
  });

  it('the query string reaches the provider from an allow-list only (a client credential there could fail the key)', async () => {
    const { calls } = mockUpstream(() => Response.json({}));
    const env = await makeEnv();
    await app.request(
      '/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse&access_token=bogus&key=x&quotaUser=u&%24alt=json',
      postJson({ contents: [] }),
      env,
    );
    await app.request('/anthropic/v1/messages?beta=true&foo=bar', postJson({ ...chat('claude-sonnet-4-5'), max_tokens: 8 }), env);
    expect(calls.map((c) => c.url)).toEqual([
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse',
      'https://api.anthropic.com/v1/messages?beta=true',
    ]);
  });

  it("one request's upstream attempts are bounded across the whole fallback chain", async () => {
    const config = testConfig();
    const providers: Record<string, unknown> = {};
    for (const id of ['p1', 'p2', 'p3', 'p4']) {
      providers[id] = {
        protocol: 'openai',
        endpoint: `https://${id}.example/v1`,
        keys: freshKeys(id, 3).map((key) => ({ key })),
        models: [{ id: 'shared-model' }],
      };
    }
    const env = await makeEnv({ config: { ...config, providers: { ...config.providers, ...providers } } });
    const { calls } = mockUpstream(() => Response.json({ error: { message: 'down' } }, { status: 500 }));
    const res = await app.request('/v1/chat/completions', postJson(chat('shared-model')), env);
    expect(res.status).toBe(500);
    expect(calls.length).toBeLessThanOrEqual(6);
    expect(calls.length).toBeGreaterThan(1);
  });
});
