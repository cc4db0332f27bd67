import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import { makeEnv, postJson, userHeaders } from './helpers/env';
import { forbidUpstream, mockUpstream, type UpstreamCall } from './helpers/fetch';
import { providerAnswer } from './helpers/stand-in';
import { testConfig } from './helpers/vault';
import { forgetKeyRests } from './unified/answers';

// Issue 23, finding 5: state a provider keeps (stored responses, conversations, prompts, files…)
// lives under the operator's keys, which every user shares. Without the vault's `providerState` for a
// provider, calls go with `store: false` and a body naming such state is refused before anything is
// sent. The tests of this file failed on the gateway before the fix, except those marked "control".

afterEach(() => {
  vi.restoreAllMocks();
  // On a gateway that forwards what it must refuse, the stand-in that forbids calls rests the key.
  forgetKeyRests();
});

/** The vault of the tests, with `providerState: true` on the given providers. */
function configAllowing(...providers: string[]) {
  const config = testConfig();
  for (const id of providers) config.providers[id] = { ...config.providers[id], providerState: true };
  return config;
}

let responseCount = 0;

/**
 * OpenAI's /responses, as far as these tests need it: a reasoning item and a message, and OpenAI's
 * refusal of a reasoning item it must look up while `store` is false. Other calls: the stand-in.
 */
function openaiResponses() {
  return mockUpstream((call: UpstreamCall) => {
    if (!call.url.endsWith('/responses')) return providerAnswer(call);
    const body = call.json();
    const items = Array.isArray(body.input) ? (body.input as { type?: string; id?: string; encrypted_content?: string }[]) : [];
    const unknown = items.find((item) => item.type === 'reasoning' && !item.encrypted_content);
    if (unknown && body.store === false) {
      return Response.json(
        { error: { message: `Item with id '${unknown.id}' not found.`, type: 'invalid_request_error', param: 'input', code: null } },
        { status: 404 },
      );
    }
    const id = `resp_state${responseCount++}`;
    return Response.json({
      id,
      object: 'response',
      created_at: 1741476542,
      status: 'completed',
      model: 'gpt-4o-mini-2024-07-18',
      output: [
        { type: 'reasoning', id: `rs_${id}`, summary: [] },
        { type: 'message', id: `msg_${id}`, status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'ok', annotations: [] }] },
      ],
      store: body.store ?? true,
      usage: { input_tokens: 5, output_tokens: 2, total_tokens: 7 },
    });
  });
}

async function expectRefused(res: Response, field: string) {
  expect(res.status).toBe(400);
  const { error } = await res.json<{ error: { code: string; message: string } }>();
  expect(error.code).toBe('provider_state_not_allowed');
  expect(error.message).toContain(field);
}

const userText = (text: string) => ({ type: 'message', role: 'user', content: [{ type: 'input_text', text }] });

describe('finding: conversations stored at the provider are reachable across users', () => {
  it('unified /v1/responses to an OpenAI-native provider sends store: false; the gateway still stores the turn itself', async () => {
    const { calls } = openaiResponses();
    const env = await makeEnv();
    const res = await app.request('/v1/responses', postJson({ model: 'openai/gpt-4o-mini', input: 'Hello' }), env);
    expect(res.status).toBe(200);
    expect(calls[0]!.json()).toEqual({ model: 'gpt-4o-mini', input: 'Hello', store: false });
    const { id } = await res.json<{ id: string }>();
    expect((await app.request(`/v1/responses/${id}`, { headers: userHeaders() }, env)).status).toBe(200);
  });

  it("the gateway's own previous_response_id still works: its turns go as input, without the reasoning items the provider would look up", async () => {
    const { calls } = openaiResponses();
    const env = await makeEnv();
    const first = await app.request('/v1/responses', postJson({ model: 'openai/gpt-4o-mini', input: 'Hello', reasoning: { effort: 'low' } }), env);
    const { id } = await first.json<{ id: string }>();
    const second = await app.request('/v1/responses', postJson({ model: 'openai/gpt-4o-mini', input: 'More', previous_response_id: id }), env);
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ previous_response_id: id });
    const sent = calls[1]!.json();
    expect(sent.previous_response_id).toBeUndefined();
    expect(sent.store).toBe(false);
    expect(sent.input).toEqual([userText('Hello'), expect.objectContaining({ type: 'message', id: `msg_${id}` }), userText('More')]);
  });

  it.each([
    ['conversation', { conversation: 'conv_of_another_user' }],
    ['prompt.id', { prompt: { id: 'pmpt_abc', version: '2' } }],
    ['input[0].content[0].file_id', { input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'file-abc' }] }] }],
  ])('unified /v1/responses to an OpenAI-native provider refuses %s, nothing sent', async (field, extra) => {
    const { calls } = forbidUpstream();
    const res = await app.request('/v1/responses', postJson({ model: 'openai/gpt-4o-mini', input: 'Hi', ...extra }), await makeEnv());
    await expectRefused(res, field);
    expect(calls).toHaveLength(0);
  });

  it("control: with the provider's providerState, unified /v1/responses sends what the client asked", async () => {
    const { calls } = openaiResponses();
    const env = await makeEnv({ config: configAllowing('openai') });
    await app.request('/v1/responses', postJson({ model: 'openai/gpt-4o-mini', input: 'Hello', conversation: 'conv_1' }), env);
    await app.request('/v1/responses', postJson({ model: 'openai/gpt-4o-mini', input: 'Hello', store: false }), env);
    expect(calls.map((call) => call.json())).toEqual([
      { model: 'gpt-4o-mini', input: 'Hello', conversation: 'conv_1' },
      { model: 'gpt-4o-mini', input: 'Hello', store: false },
    ]);
  });

  const responses = (extra: Record<string, unknown>) => ({ model: 'gpt-4o-mini', input: 'Hi', ...extra });

  it.each([
    ['previous_response_id', { previous_response_id: 'resp_of_another_user' }],
    ['conversation', { conversation: 'conv_of_another_user' }],
    ['conversation', { conversation: { id: 'conv_of_another_user' } }],
    ['prompt.id', { prompt: { id: 'pmpt_abc' } }],
    [
      'input[0].content[1].file_id',
      {
        input: [
          {
            role: 'user',
            content: [
              { type: 'input_text', text: 'read' },
              { type: 'input_file', file_id: 'file-abc' },
            ],
          },
        ],
      },
    ],
    ['input[0].content[0].file_id', { input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-img' }] }] }],
    ['input[1] (an item_reference)', { input: [userText('Hi'), { type: 'item_reference', id: 'msg_of_another_user' }] }],
    ['input[0].id (a reasoning item', { input: [{ type: 'reasoning', id: 'rs_of_another_user', summary: [] }, userText('Hi')] }],
    ['tools[0].vector_store_ids', { tools: [{ type: 'file_search', vector_store_ids: ['vs_abc'] }] }],
    ['tools[0].container', { tools: [{ type: 'code_interpreter', container: 'cntr_abc' }] }],
  ])('POST /openai/v1/responses naming %s is a 400 and nothing is sent', async (field, extra) => {
    const { calls } = forbidUpstream();
    const res = await app.request('/openai/v1/responses', postJson(responses(extra)), await makeEnv());
    await expectRefused(res, field);
    expect(calls).toHaveLength(0);
  });

  it('the legacy X-Host-Final form is refused the same', async () => {
    const { calls } = forbidUpstream();
    const headers = userHeaders(undefined, { 'x-host-final': 'api.openai.com' });
    const res = await app.request('/v1/responses', postJson(responses({ previous_response_id: 'resp_of_another_user' }), headers), await makeEnv());
    await expectRefused(res, 'previous_response_id');
    expect(calls).toHaveLength(0);
  });

  it('POST /openai/v1/responses goes with store: false, added or forced; a client store: false goes as its own bytes', async () => {
    const { calls } = openaiResponses();
    const env = await makeEnv();
    await app.request('/openai/v1/responses', postJson(responses({})), env);
    await app.request('/openai/v1/responses', postJson(responses({ store: true })), env);
    const own = JSON.stringify(responses({ store: false, include: ['reasoning.encrypted_content'] }));
    await app.request('/openai/v1/responses', { method: 'POST', headers: userHeaders(), body: own }, env);
    expect(calls.map((call) => call.json().store)).toEqual([false, false, false]);
    expect(calls[2]!.text()).toBe(own);
  });

  it("control: with the provider's providerState, the proxy forwards them as sent", async () => {
    const { calls } = openaiResponses();
    const env = await makeEnv({ config: configAllowing('openai') });
    const body = responses({ previous_response_id: 'resp_1', prompt: { id: 'pmpt_abc' } });
    const res = await app.request('/openai/v1/responses', postJson(body), env);
    expect(res.status).toBe(200);
    expect(calls[0]!.json()).toEqual(body);
  });

  const chat = (content: unknown, extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });

  it.each([
    ['messages[0].content[0].file.file_id', chat([{ type: 'file', file: { file_id: 'file-abc' } }])],
    [
      'messages[1].audio.id',
      {
        model: 'gpt-4o-mini',
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', audio: { id: 'audio_abc' } },
        ],
      },
    ],
  ])('POST /openai/v1/chat/completions naming %s is a 400 and nothing is sent', async (field, body) => {
    const { calls } = forbidUpstream();
    await expectRefused(await app.request('/openai/v1/chat/completions', postJson(body), await makeEnv()), field);
    expect(calls).toHaveLength(0);
  });

  it('POST /openai/v1/images/edits naming an uploaded image by file_id is a 400 and nothing is sent', async () => {
    const { calls } = forbidUpstream();
    const body = { model: 'gpt-image-1', prompt: 'a hat', images: [{ file_id: 'file-abc' }] };
    await expectRefused(await app.request('/openai/v1/images/edits', postJson(body), await makeEnv()), 'images[0].file_id');
    expect(calls).toHaveLength(0);
  });

  it('Chat Completions with store: true reach the provider with store: false, on the proxy and the unified route', async () => {
    const { calls } = openaiResponses();
    const env = await makeEnv();
    await app.request('/openai/v1/chat/completions', postJson(chat('hi', { store: true })), env);
    await app.request('/v1/chat/completions', postJson({ ...chat('hi', { store: true }), model: 'openai/gpt-4o-mini' }), env);
    expect(calls.map((call) => call.json().store)).toEqual([false, false]);
  });

  it.each([
    ['messages[0].content[0].source.file_id', { messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'file', file_id: 'file_abc' } }] }] }],
    ['container', { container: 'container_abc', messages: [{ role: 'user', content: 'hi' }] }],
  ])('Anthropic: a body naming %s is a 400 on the proxy and on the unified /v1/messages, nothing sent', async (field, extra) => {
    const { calls } = forbidUpstream();
    const env = await makeEnv();
    const body = { model: 'claude-sonnet-4-5', max_tokens: 64, ...extra };
    await expectRefused(await app.request('/anthropic/v1/messages', postJson(body), env), field);
    const unified = await app.request('/v1/messages', postJson({ ...body, model: 'anthropic/claude-sonnet-4-5' }), env);
    expect(unified.status).toBe(400);
    expect(await unified.text()).toContain(field);
    expect(calls).toHaveLength(0);
  });

  it.each([
    [
      'contents[0].parts[1].fileData',
      { contents: [{ role: 'user', parts: [{ text: 'hi' }, { fileData: { fileUri: 'https://generativelanguage.googleapis.com/v1beta/files/abc' } }] }] },
    ],
    ['contents[0].parts[0].file_data', { contents: [{ parts: [{ file_data: { file_uri: 'files/abc' } }] }] }],
    ['cachedContent', { cachedContent: 'cachedContents/abc', contents: [{ parts: [{ text: 'hi' }] }] }],
  ])('Gemini: a body naming %s is a 400 and nothing is sent', async (field, body) => {
    const { calls } = forbidUpstream();
    await expectRefused(await app.request('/gemini/v1beta/models/gemini-2.0-flash:generateContent', postJson(body), await makeEnv()), field);
    expect(calls).toHaveLength(0);
  });

  it('control: a Gemini fileData naming a public video is forwarded', async () => {
    const { calls } = openaiResponses();
    const body = { contents: [{ parts: [{ text: 'summarise' }, { fileData: { fileUri: 'https://www.youtube.com/watch?v=abc' } }] }] };
    const res = await app.request('/gemini/v1beta/models/gemini-2.0-flash:generateContent', postJson(body), await makeEnv());
    expect(res.status).toBe(200);
    expect(calls).toHaveLength(1);
  });
});
