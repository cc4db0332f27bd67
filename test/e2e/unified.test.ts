import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CHAIN_MODEL, received, startUnifiedRig, TINY_PNG_BASE64, type UnifiedRig } from './unified-setup';

// Issue 4 end to end with the official openai SDK: one base URL (`/v1`) for every provider, the
// gateway in wrangler dev, stand-in providers speaking OpenAI, Anthropic and Gemini wire formats.

let rig: UnifiedRig;
let client: OpenAI;

beforeAll(async () => {
  rig = await startUnifiedRig();
  client = new OpenAI({ baseURL: `${rig.gateway.url}/v1`, apiKey: rig.userKey, maxRetries: 0 });
});
afterAll(async () => {
  await rig?.stop();
});
beforeEach(() => rig.standIn.reset());

// One model per wire protocol: passed through (groq), translated to Anthropic, translated to Gemini.
const MODELS = {
  openai: 'groq/llama-3.3-70b-versatile',
  anthropic: 'anthropic/claude-sonnet-5',
  gemini: 'gemini/gemini-2.0-flash',
} as const;
const UPSTREAM_PATH = { openai: '/openai/v1/chat/completions', anthropic: '/anthropic/v1/messages', gemini: '/gemini/v1beta/models/' } as const;

const weather: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};

it('lists every provider model as provider/model with its limits', async () => {
  const ids: string[] = [];
  for await (const model of client.models.list()) ids.push(model.id);
  expect(ids).toEqual(expect.arrayContaining(Object.values(MODELS)));
  expect(ids).toContain('gemini/text-embedding-004');
  const model = (await client.models.retrieve('anthropic/claude-sonnet-5')) as unknown as Record<string, unknown>;
  expect(model).toMatchObject({ owned_by: 'anthropic', context_window: 200000, max_completion_tokens: 64000 });
});

describe.each(Object.entries(MODELS))('OpenAI client → %s protocol', (protocol, model) => {
  const upstream = () => received(rig.standIn, UPSTREAM_PATH[protocol as keyof typeof MODELS]);

  it('plain chat: the answer, its usage, and the provider that served it', async () => {
    const { data, response } = await client.chat.completions
      .create({
        model,
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'hello there' },
        ],
        max_tokens: 100,
      })
      .withResponse();
    expect(response.headers.get('x-switchyard-provider')).toBe(model.split('/')[0]);
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]!.message.content).toBe('Echo: hello there');
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens);
    expect(upstream()).toHaveLength(1);
  });

  it('streaming: text deltas, a finish chunk, and the usage chunk when asked', async () => {
    const stream = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'one two three four' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    const finishes: string[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.choices[0]?.finish_reason) finishes.push(chunk.choices[0].finish_reason);
      if (chunk.choices.length === 0) usage = chunk.usage;
    }
    expect(text).toBe('Echo: one two three four');
    expect(finishes).toEqual(['stop']);
    expect(usage!.completion_tokens).toBeGreaterThan(0);
  });

  it('tool use over two turns, with the tool call id kept consistent', async () => {
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: "What's the weather in Paris?" }];
    const first = await client.chat.completions.create({ model, messages, tools: [weather] });
    const call = first.choices[0]!.message.tool_calls![0]!;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.type === 'function' && call.function.name).toBe('get_weather');
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ location: 'Paris' });

    messages.push(first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '{"temperature":18}' });
    const second = await client.chat.completions.create({ model, messages, tools: [weather] });
    expect(second.choices[0]!.message.content).toBe("Echo: What's the weather in Paris?");

    // What the provider saw on the second turn: the call and its result, matched in its own format.
    const turn = upstream().at(-1)!;
    if (protocol === 'anthropic') {
      const [, assistant, result] = turn.messages;
      expect(assistant.content).toEqual([{ type: 'tool_use', id: call.id, name: 'get_weather', input: { location: 'Paris' } }]);
      expect(result.content).toEqual([{ type: 'tool_result', tool_use_id: call.id, content: '{"temperature":18}' }]);
    } else if (protocol === 'gemini') {
      expect(turn.contents[1].parts).toEqual([{ functionCall: { name: 'get_weather', args: { location: 'Paris' } } }]);
      expect(turn.contents[2].parts).toEqual([{ functionResponse: { name: 'get_weather', response: { temperature: 18 } } }]);
    } else {
      expect(turn.messages[2]).toEqual({ role: 'tool', tool_call_id: call.id, content: '{"temperature":18}' });
    }
  });

  it('a streamed tool call: argument deltas assembled by the SDK', async () => {
    const runner = client.chat.completions.stream({ model, messages: [{ role: 'user', content: 'weather in Lyon please' }], tools: [weather] });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]!.message.tool_calls![0]!;
    expect(call.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ location: 'Lyon' });
    expect(call.id).toBeTruthy();
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('image input, as a data URL and as an http(s) URL', async () => {
    const url = `${rig.standIn.url}/__files/image.png`;
    const answer = await client.chat.completions.create({
      model,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'describe these' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${TINY_PNG_BASE64}` } },
            { type: 'image_url', image_url: { url } },
          ],
        },
      ],
    });
    expect(answer.choices[0]!.message.content).toBe('Echo: describe these');
    const sent = upstream().at(-1)!;
    if (protocol === 'anthropic') {
      expect(sent.messages[0].content.slice(1)).toEqual([
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: TINY_PNG_BASE64 } },
        { type: 'image', source: { type: 'url', url } },
      ]);
    } else if (protocol === 'gemini') {
      // Gemini takes image bytes only: the gateway fetched the URL and inlined it.
      const inline = { inlineData: { mimeType: 'image/png', data: TINY_PNG_BASE64 } };
      expect(sent.contents[0].parts.slice(1)).toEqual([inline, inline]);
    } else {
      expect(sent.messages[0].content[2]).toEqual({ type: 'image_url', image_url: { url } });
    }
  });
});

describe('embeddings', () => {
  it('pass through to an OpenAI-protocol provider and are translated for Gemini, decoded by the SDK', async () => {
    const groq = await client.embeddings.create({ model: 'groq/nomic-embed-text-v1.5', input: ['same text', 'other'] });
    const gemini = await client.embeddings.create({ model: 'text-embedding-004', input: ['same text', 'other'] });
    expect(gemini.data).toHaveLength(2);
    expect(gemini.data[0]!.embedding).toHaveLength(8);
    // Both stand-ins derive a vector from the text the same way: the translation kept every float.
    expect(gemini.data.map((d) => d.embedding)).toEqual(groq.data.map((d) => d.embedding));
    expect(received(rig.standIn, ':batchEmbedContents')[0]!.requests).toHaveLength(2);
  });
});

it('images pass through to an OpenAI-protocol provider', async () => {
  const image = await client.images.generate({ model: 'dall-e-3', prompt: 'a lighthouse', response_format: 'b64_json' });
  expect(image.data![0]!.b64_json).toBe(TINY_PNG_BASE64);
});

describe('fallback chain', () => {
  it('a failing first candidate (both its keys) hands the request to the next provider', async () => {
    rig.standIn.addFault({ path: '/anthropic/', model: CHAIN_MODEL, status: 503, times: 2 });
    const { data, response } = await client.chat.completions.create({ model: CHAIN_MODEL, messages: [{ role: 'user', content: 'fall back' }] }).withResponse();
    expect(response.headers.get('x-switchyard-provider')).toBe('gemini');
    expect(data.choices[0]!.message.content).toBe('Echo: fall back');
    expect(data.model).toBe(CHAIN_MODEL);
    expect(rig.standIn.requests.map((r) => r.dialect)).toEqual(['anthropic', 'anthropic', 'gemini']);
  });

  it('streams from the next candidate too', async () => {
    rig.standIn.addFault({ path: '/anthropic/', model: CHAIN_MODEL, status: 529, times: 2 });
    rig.standIn.addFault({ path: '/gemini/', model: CHAIN_MODEL, status: 500, times: 2 });
    const stream = await client.chat.completions.create({ model: CHAIN_MODEL, messages: [{ role: 'user', content: 'third time' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('Echo: third time');
    expect(rig.standIn.requests.at(-1)!.dialect).toBe('openai');
  });
});

describe('errors, in the OpenAI shape', () => {
  it('an unknown model is a 404, a wrong key a 401', async () => {
    const unknown = await client.chat.completions.create({ model: 'no/such-model', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect((unknown as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    const stranger = new OpenAI({ baseURL: `${rig.gateway.url}/v1`, apiKey: 'sy-not-a-user', maxRetries: 0 });
    await expect(stranger.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('an Anthropic or Gemini error answer arrives as an OpenAI error with its status', async () => {
    rig.standIn.addFault({ path: '/anthropic/', status: 400, message: 'messages: text content blocks must be non-empty' });
    const anthropic = await client.chat.completions.create({ model: MODELS.anthropic, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(anthropic).toBeInstanceOf(OpenAI.BadRequestError);
    expect((anthropic as Error).message).toContain('anthropic: messages: text content blocks must be non-empty');

    rig.standIn.addFault({ path: '/gemini/', status: 429, times: 2, retryAfter: 1 });
    const gemini = await client.chat.completions.create({ model: MODELS.gemini, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(gemini).toBeInstanceOf(OpenAI.RateLimitError);
    expect((gemini as InstanceType<typeof OpenAI.RateLimitError>).error).toMatchObject({
      type: 'rate_limit_error',
      message: expect.stringContaining('gemini: Resource has been exhausted'),
    });
  });

  it('a translated stream cut mid-way ends with an error event the SDK raises', async () => {
    rig.standIn.addFault({ path: '/anthropic/', resetAfterChunks: 4 });
    const stream = await client.chat.completions.create({ model: MODELS.anthropic, messages: [{ role: 'user', content: 'a long answer here' }], stream: true });
    let text = '';
    const failure = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    expect((failure as Error).message).toMatch(/broke off|incomplete/);
    expect('Echo: a long answer here'.startsWith(text)).toBe(true);
  });
});
