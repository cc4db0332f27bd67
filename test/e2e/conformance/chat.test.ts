import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { received, startUnifiedRig, TINY_PNG_BASE64, type UnifiedRig } from '../unified-setup';
import { CITIES, PROVIDERS, THREE_CITIES, WEATHER_SCHEMA, weatherIn } from './matrix';

// Conformance matrix, client = the openai SDK's Chat Completions (streams read by its own
// ChatCompletionStream), against an OpenAI-protocol, an Anthropic and a Gemini stand-in.

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

const tools: OpenAI.ChatCompletionTool[] = [
  { type: 'function', function: { name: 'get_weather', description: 'Current weather of a city', parameters: WEATHER_SCHEMA } },
];

type Message = OpenAI.ChatCompletionMessageParam;

/** Runs the tool loop to its end: the assistant message is sent back as the SDK gave it. */
async function toolLoop(model: string, extra: { reasoning_effort?: 'low'; max_completion_tokens?: number } = {}, stream = false) {
  const messages: Message[] = [{ role: 'user', content: THREE_CITIES }];
  const called: string[] = [];
  for (let turn = 0; turn < 6; turn++) {
    const params = { model, messages, tools, ...extra };
    const completion = stream ? await client.chat.completions.stream(params).finalChatCompletion() : await client.chat.completions.create(params);
    const message = completion.choices[0]!.message;
    messages.push(message as Message);
    if (completion.choices[0]!.finish_reason !== 'tool_calls') return { messages, called, final: completion };
    for (const call of message.tool_calls ?? []) {
      if (call.type !== 'function') continue;
      const { location } = JSON.parse(call.function.arguments) as { location: string };
      called.push(location);
      messages.push({ role: 'tool', tool_call_id: call.id, content: weatherIn(location) });
    }
  }
  throw new Error('the tool loop did not end');
}

describe.each(Object.entries(PROVIDERS))('Chat Completions → %s', (provider, model) => {
  it('plain', async () => {
    const completion = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello there' }] });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]!.message.content).toBe('Echo: hello there');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage!.prompt_tokens).toBeGreaterThan(0);
  });

  it('streamed (ChatCompletionStream, finalChatCompletion)', async () => {
    const stream = client.chat.completions.stream({ model, messages: [{ role: 'user', content: 'one two three' }], stream_options: { include_usage: true } });
    const pieces: string[] = [];
    stream.on('content', (delta) => pieces.push(delta));
    const final = await stream.finalChatCompletion();
    expect(pieces.join('')).toBe('Echo: one two three');
    expect(final.choices[0]!.message.content).toBe('Echo: one two three');
    expect(final.usage!.completion_tokens).toBeGreaterThan(0);
  });

  it.each([false, true])('tool round trip over 4 turns, 3 calls (streamed: %s)', async (stream) => {
    const { called, final, messages } = await toolLoop(model, {}, stream);
    expect(called).toEqual(CITIES);
    expect(final.choices[0]!.message.content).toBe(`Echo: ${THREE_CITIES}`);
    expect(messages.filter((m) => m.role === 'tool')).toHaveLength(3);
  });

  it('reasoning on: reasoning text, and a tool loop with reasoning on every turn', async () => {
    const completion = await client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: 'think first' }],
      reasoning_effort: 'low',
      max_completion_tokens: 4096,
    });
    const message = completion.choices[0]!.message as OpenAI.ChatCompletionMessage & { reasoning_content?: string; reasoning?: string };
    expect(message.content).toBe('Echo: think first');
    // Groq-style providers call it `reasoning`; translated answers call it `reasoning_content`.
    expect(message.reasoning_content ?? message.reasoning).toContain('think first');

    const stream = client.chat.completions.stream({
      model,
      messages: [{ role: 'user', content: 'think aloud' }],
      reasoning_effort: 'low',
      max_completion_tokens: 4096,
    });
    const reasoning: string[] = [];
    stream.on('chunk', (chunk) => {
      const delta = chunk.choices[0]?.delta as { reasoning_content?: string; reasoning?: string } | undefined;
      reasoning.push(delta?.reasoning_content ?? delta?.reasoning ?? '');
    });
    expect((await stream.finalChatCompletion()).choices[0]!.message.content).toBe('Echo: think aloud');
    expect(reasoning.join('')).toContain('think aloud');

    const { called, final } = await toolLoop(model, { reasoning_effort: 'low', max_completion_tokens: 4096 });
    expect(called).toEqual(CITIES);
    expect(final.choices[0]!.message.content).toBe(`Echo: ${THREE_CITIES}`);
    if (provider === 'Anthropic') {
      // The signed thinking of each turn went back to Anthropic, which checks the signatures.
      const last = received(rig.standIn, '/anthropic/v1/messages').at(-1)!;
      expect(last.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
      const assistantTurns = last.messages.filter((m: { role: string }) => m.role === 'assistant');
      expect(assistantTurns.map((m: { content: { type: string }[] }) => m.content[0]!.type)).toEqual(['thinking', 'thinking', 'thinking']);
    }
  });

  it('image input (data URL)', async () => {
    const completion = await client.chat.completions.create({
      model,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'describe this' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${TINY_PNG_BASE64}` } },
          ],
        },
      ],
    });
    expect(completion.choices[0]!.message.content).toBe('Echo: describe this');
    const sent = JSON.stringify(rig.standIn.requests.at(-1)!.body);
    expect(sent).toContain(TINY_PNG_BASE64);
  });
});

describe('reasoning state across turns', () => {
  it('Gemini: thought signatures ride in the tool-call ids and go back on every call', async () => {
    const { messages } = await toolLoop(PROVIDERS.Gemini);
    const ids = messages.flatMap((m) => (m.role === 'assistant' ? (m.tool_calls ?? []).map((call) => call.id) : []));
    expect(ids).toHaveLength(3);
    for (const id of ids) expect(id).toMatch(/^call_[A-Za-z0-9]+__thought_[A-Za-z0-9_-]+$/);
    const last = received(rig.standIn, ':generateContent').at(-1)!;
    const calls = last.contents.flatMap((c: { parts: Record<string, unknown>[] }) => c.parts).filter((p: Record<string, unknown>) => p.functionCall);
    expect(calls).toHaveLength(3);
    for (const part of calls) expect(part.thoughtSignature).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('Gemini: a function call that lost its signature is refused as Gemini refuses it', async () => {
    const refused = await client.chat.completions
      .create({
        model: PROVIDERS.Gemini,
        tools,
        messages: [
          { role: 'user', content: THREE_CITIES },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_plain', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }],
          },
          { role: 'tool', tool_call_id: 'call_plain', content: weatherIn('Paris') },
        ],
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect((refused as Error).message).toContain('thought_signature');
  });

  it('Anthropic: a client that drops the thinking blocks still gets its next turn (thinking off for that turn)', async () => {
    const params = { model: PROVIDERS.Anthropic, tools, reasoning_effort: 'low' as const, max_completion_tokens: 4096 };
    const messages: Message[] = [{ role: 'user', content: "What's the weather in Oslo?" }];
    const first = await client.chat.completions.create({ ...params, messages });
    const call = first.choices[0]!.message.tool_calls![0]!;
    messages.push({ role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: call.id, content: weatherIn('Oslo') });
    const second = await client.chat.completions.create({ ...params, messages });
    expect(second.choices[0]!.message.content).toBe("Echo: What's the weather in Oslo?");
    expect(received(rig.standIn, '/anthropic/v1/messages').at(-1)!.thinking).toBeUndefined();
  });
});

describe('prompt caching', () => {
  it('cache_control reaches Anthropic from Chat Completions; cached tokens come back as prompt_tokens_details.cached_tokens', async () => {
    const system = { type: 'text' as const, text: 'A long, stable system prompt. '.repeat(40), cache_control: { type: 'ephemeral' } };
    const ask = (content: string) =>
      client.chat.completions.create({
        model: PROVIDERS.Anthropic,
        messages: [
          { role: 'system', content: [system] },
          { role: 'user', content },
        ],
      });
    await ask('first');
    const second = await ask('second');
    expect(received(rig.standIn, '/anthropic/v1/messages')[0]!.system).toEqual([system]);
    expect(second.usage!.prompt_tokens_details?.cached_tokens).toBeGreaterThan(0);
  });

  it.each(['OpenAI-protocol', 'Gemini'] as const)('%s: a repeated prefix is reported as cached_tokens', async (provider) => {
    const messages: Message[] = [
      { role: 'system', content: 'Stable instructions. '.repeat(40) },
      { role: 'user', content: 'same question' },
    ];
    await client.chat.completions.create({ model: PROVIDERS[provider], messages });
    const again = await client.chat.completions.create({ model: PROVIDERS[provider], messages });
    expect(again.usage!.prompt_tokens_details?.cached_tokens).toBeGreaterThan(0);
  });
});
