import Anthropic, { type APIError } from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CHAIN_MODEL, received, startUnifiedRig, TINY_PNG_BASE64, type UnifiedRig } from './unified-setup';

// Issue 4 end to end with the official @anthropic-ai/sdk: `POST /v1/messages` routed to any provider
// by model (natively to Anthropic, translated for OpenAI-protocol and Gemini providers).

let rig: UnifiedRig;
let client: Anthropic;

beforeAll(async () => {
  rig = await startUnifiedRig();
  client = new Anthropic({ baseURL: rig.gateway.url, apiKey: rig.userKey, maxRetries: 0 });
});
afterAll(async () => {
  await rig?.stop();
});
beforeEach(() => rig.standIn.reset());

const MODELS = {
  anthropic: 'anthropic/claude-sonnet-5',
  openai: 'groq/llama-3.3-70b-versatile',
  gemini: 'gemini/gemini-2.0-flash',
} as const;
const UPSTREAM_PATH = { openai: '/openai/v1/chat/completions', anthropic: '/anthropic/v1/messages', gemini: '/gemini/v1beta/models/' } as const;

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Current weather of a city',
  input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
};

describe.each(Object.entries(MODELS))('Anthropic client → %s protocol', (protocol, model) => {
  const upstream = () => received(rig.standIn, UPSTREAM_PATH[protocol as keyof typeof MODELS]);

  it('plain message: text, stop reason, usage and the provider that served it', async () => {
    const { data, response } = await client.messages
      .create({ model, max_tokens: 200, system: 'Be brief.', messages: [{ role: 'user', content: 'hello there' }] })
      .withResponse();
    expect(response.headers.get('x-switchyard-provider')).toBe(model.split('/')[0]);
    expect(data.type).toBe('message');
    expect(data.id).toMatch(/^msg_/);
    expect(data.content).toEqual([{ type: 'text', text: 'Echo: hello there' }]);
    expect(data.stop_reason).toBe('end_turn');
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(data.usage.output_tokens).toBeGreaterThan(0);
    if (protocol === 'openai') expect(upstream()[0]!.messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
    if (protocol === 'gemini') expect(upstream()[0]!.systemInstruction).toEqual({ parts: [{ text: 'Be brief.' }] });
  });

  it('streaming through the SDK helper: text events and a final message with usage', async () => {
    const stream = client.messages.stream({ model, max_tokens: 200, messages: [{ role: 'user', content: 'one two three four' }] });
    const pieces: string[] = [];
    stream.on('text', (text) => pieces.push(text));
    const final = await stream.finalMessage();
    expect(pieces.join('')).toBe('Echo: one two three four');
    expect(pieces.length).toBeGreaterThan(1);
    expect(final.content).toEqual([{ type: 'text', text: 'Echo: one two three four' }]);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });

  it('tool use over two turns, with the tool_use id kept consistent', async () => {
    const messages: Anthropic.MessageParam[] = [{ role: 'user', content: "What's the weather in Paris?" }];
    const first = await client.messages.create({ model, max_tokens: 200, messages, tools: [weather] });
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((block): block is Anthropic.ToolUseBlock => block.type === 'tool_use')!;
    expect(use).toMatchObject({ name: 'get_weather', input: { location: 'Paris' } });
    expect(use.id).toMatch(/^[a-zA-Z0-9_-]+$/);

    messages.push(
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18 degrees' }] },
    );
    const second = await client.messages.create({ model, max_tokens: 200, messages, tools: [weather] });
    expect(second.content).toEqual([{ type: 'text', text: "Echo: What's the weather in Paris?" }]);

    const turn = upstream().at(-1)!;
    if (protocol === 'openai') {
      expect(turn.messages[1].tool_calls).toEqual([{ id: use.id, type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }]);
      expect(turn.messages[2]).toEqual({ role: 'tool', tool_call_id: use.id, content: '18 degrees' });
    } else if (protocol === 'gemini') {
      expect(turn.contents[1].parts).toEqual([{ functionCall: { name: 'get_weather', args: { location: 'Paris' } } }]);
      expect(turn.contents[2].parts).toEqual([{ functionResponse: { name: 'get_weather', response: { output: '18 degrees' } } }]);
    } else {
      expect(turn.messages[2].content).toEqual([{ type: 'tool_result', tool_use_id: use.id, content: '18 degrees' }]);
    }
  });

  it('a streamed tool call: input_json_delta assembled by the SDK', async () => {
    const stream = client.messages.stream({ model, max_tokens: 200, messages: [{ role: 'user', content: 'weather in Lyon please' }], tools: [weather] });
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content.find((b) => b.type === 'tool_use')).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { location: 'Lyon' } });
  });

  it('image input, base64 and by URL', async () => {
    const url = `${rig.standIn.url}/__files/image.png`;
    const answer = await client.messages.create({
      model,
      max_tokens: 100,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'describe these' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: TINY_PNG_BASE64 } },
            { type: 'image', source: { type: 'url', url } },
          ],
        },
      ],
    });
    expect(answer.content).toEqual([{ type: 'text', text: 'Echo: describe these' }]);
    const sent = upstream().at(-1)!;
    if (protocol === 'openai') {
      expect(sent.messages[0].content.slice(1)).toEqual([
        { type: 'image_url', image_url: { url: `data:image/png;base64,${TINY_PNG_BASE64}` } },
        { type: 'image_url', image_url: { url } },
      ]);
    } else if (protocol === 'gemini') {
      const inline = { inlineData: { mimeType: 'image/png', data: TINY_PNG_BASE64 } };
      expect(sent.contents[0].parts.slice(1)).toEqual([inline, inline]);
    } else {
      expect(sent.messages[0].content[2]).toEqual({ type: 'image', source: { type: 'url', url } });
    }
  });
});

describe('what Claude Code sends', () => {
  it('models.list() with the key as x-api-key, in the Anthropic listing shape', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) {
      expect(model.type).toBe('model');
      expect(typeof model.display_name).toBe('string');
      ids.push(model.id);
    }
    expect(ids).toContain(MODELS.anthropic);
    expect(ids).toContain(MODELS.gemini);
  });

  it.each(Object.entries(MODELS))('a system message mid-conversation (beta mid-conversation-system-2026-04-07) → %s', async (protocol, model) => {
    const answer = await client.beta.messages.create({
      model,
      max_tokens: 100,
      betas: ['mid-conversation-system-2026-04-07'],
      system: 'Be brief.',
      messages: [
        { role: 'user', content: 'first' },
        { role: 'assistant', content: 'ok' },
        { role: 'system', content: 'Plan mode is on.' },
        { role: 'user', content: 'second' },
      ] as unknown as Anthropic.Beta.BetaMessageParam[],
    });
    expect(answer.content).toEqual([{ type: 'text', text: 'Echo: second' }]);
    const sent = rig.standIn.requests.at(-1)!;
    const body = JSON.parse(sent.body);
    if (protocol === 'anthropic') {
      expect(sent.headers['anthropic-beta']).toContain('mid-conversation-system-2026-04-07');
      expect(body.messages[2]).toEqual({ role: 'system', content: 'Plan mode is on.' });
    } else if (protocol === 'openai') {
      expect(body.messages.map((m: { role: string }) => m.role)).toEqual(['system', 'user', 'assistant', 'system', 'user']);
    } else {
      expect(body.systemInstruction).toEqual({ parts: [{ text: 'Be brief.\n\nPlan mode is on.' }] });
    }
  });

  it('without the beta, an Anthropic provider gets the system message folded into system (it would refuse it)', async () => {
    const answer = await client.messages.create({
      model: MODELS.anthropic,
      max_tokens: 100,
      messages: [
        { role: 'user', content: 'first' },
        { role: 'system', content: 'Plan mode is on.' },
        { role: 'user', content: 'second' },
      ] as unknown as Anthropic.MessageParam[],
    });
    expect(answer.content).toEqual([{ type: 'text', text: 'Echo: second' }]);
    expect(received(rig.standIn, '/anthropic/v1/messages')[0]).toMatchObject({ system: [{ type: 'text', text: 'Plan mode is on.' }] });
  });
});

it('takes the user key as a bearer token too (authToken)', async () => {
  const bearer = new Anthropic({ baseURL: rig.gateway.url, apiKey: null, authToken: rig.userKey, maxRetries: 0 });
  const answer = await bearer.messages.create({ model: MODELS.openai, max_tokens: 50, messages: [{ role: 'user', content: 'bearer' }] });
  expect(answer.content).toEqual([{ type: 'text', text: 'Echo: bearer' }]);
});

describe('fallback chain', () => {
  it('an overloaded Anthropic (both keys) hands the request to Gemini', async () => {
    rig.standIn.addFault({ path: '/anthropic/', model: CHAIN_MODEL, status: 529, times: 2 });
    const { data, response } = await client.messages
      .create({ model: CHAIN_MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'fall back' }] })
      .withResponse();
    expect(response.headers.get('x-switchyard-provider')).toBe('gemini');
    expect(data.content).toEqual([{ type: 'text', text: 'Echo: fall back' }]);
    expect(rig.standIn.requests.map((r) => r.dialect)).toEqual(['anthropic', 'anthropic', 'gemini']);
  });

  it('streams from the third candidate when the first two fail', async () => {
    rig.standIn.addFault({ path: '/anthropic/', model: CHAIN_MODEL, status: 503, times: 2 });
    rig.standIn.addFault({ path: '/gemini/', model: CHAIN_MODEL, status: 503, times: 2 });
    const final = await client.messages.stream({ model: CHAIN_MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'third time' }] }).finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: 'Echo: third time' }]);
    expect(rig.standIn.requests.at(-1)!.dialect).toBe('openai');
  });
});

describe('count_tokens', () => {
  it("an Anthropic model is counted by Anthropic's messages/count_tokens", async () => {
    const counted = await client.messages.countTokens({
      model: MODELS.anthropic,
      system: 'Be brief.',
      messages: [{ role: 'user', content: 'count me please' }],
    });
    // The stand-in counts one token per 4 characters of "Be brief.\ncount me please".
    expect(counted.input_tokens).toBe(7);
    expect(received(rig.standIn, '/anthropic/v1/messages/count_tokens')[0]).toMatchObject({ model: 'claude-sonnet-5' });
  });

  it("asks Gemini's countTokens for a Gemini model, and is a clear 501 for an OpenAI-protocol model", async () => {
    const counted = await client.messages.countTokens({ model: MODELS.gemini, system: 'Be brief.', messages: [{ role: 'user', content: 'count me' }] });
    // System instruction included: "Be brief.\ncount me" is 18 characters.
    expect(counted.input_tokens).toBe(5);
    expect(received(rig.standIn, ':countTokens')[0]).toEqual({
      generateContentRequest: {
        model: 'models/gemini-2.0-flash',
        contents: [{ role: 'user', parts: [{ text: 'count me' }] }],
        systemInstruction: { parts: [{ text: 'Be brief.' }] },
      },
    });
    const refused = await client.messages.countTokens({ model: MODELS.openai, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.InternalServerError);
    expect((refused as APIError).status).toBe(501);
    expect((refused as APIError).error).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('tokenizer') } });
  });
});

describe('errors, in the Anthropic shape', () => {
  it('a wrong key is an authentication_error, an unknown model a not_found_error, a bad request an invalid_request_error', async () => {
    const stranger = new Anthropic({ baseURL: rig.gateway.url, apiKey: 'sy-not-a-user', maxRetries: 0 });
    const denied = await stranger.messages.create({ model: MODELS.openai, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((denied as APIError).type).toBe('authentication_error');

    const unknown = await client.messages
      .create({ model: 'claude-opus-99', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
    expect((unknown as APIError).type).toBe('not_found_error');

    const invalid = await client.messages
      .create({ model: MODELS.openai, messages: [{ role: 'user', content: 'x' }] } as unknown as Anthropic.MessageCreateParamsNonStreaming)
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(Anthropic.BadRequestError);
    expect((invalid as APIError).message).toContain('max_tokens');
    expect(rig.standIn.requests).toEqual([]);
  });

  it('OpenAI-protocol and Gemini error answers arrive as Anthropic errors with their status', async () => {
    rig.standIn.addFault({ path: '/openai/', status: 429, times: 2, retryAfter: 1 });
    const groq = await client.messages.create({ model: MODELS.openai, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(groq).toBeInstanceOf(Anthropic.RateLimitError);
    expect((groq as APIError).type).toBe('rate_limit_error');
    expect((groq as APIError).headers?.get('retry-after')).toBe('1');

    rig.standIn.addFault({ path: '/gemini/', status: 400, message: '* GenerateContentRequest.contents: contents is not specified' });
    const gemini = await client.messages.create({ model: MODELS.gemini, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(gemini).toBeInstanceOf(Anthropic.BadRequestError);
    expect((gemini as APIError).error).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: 'gemini: * GenerateContentRequest.contents: contents is not specified' },
    });
  });

  it('a translated stream cut mid-way ends with an error event the SDK raises', async () => {
    rig.standIn.addFault({ path: '/openai/', resetAfterChunks: 4 });
    const stream = client.messages.stream({ model: MODELS.openai, max_tokens: 100, messages: [{ role: 'user', content: 'a long answer here' }] });
    const failure = await stream.finalMessage().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Anthropic.APIError);
    expect((failure as APIError).type).toBe('api_error');
    expect((failure as Error).message).toMatch(/broke off|incomplete/);
  });
});
