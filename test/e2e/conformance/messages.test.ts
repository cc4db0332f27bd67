import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { received, startUnifiedRig, TINY_PNG_BASE64, type UnifiedRig } from '../unified-setup';
import { CITIES, PROVIDERS, THREE_CITIES, WEATHER_SCHEMA, weatherIn } from './matrix';

// Conformance matrix, client = @anthropic-ai/sdk Messages (streams read by its own MessageStream),
// against an OpenAI-protocol, an Anthropic and a Gemini stand-in.

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

const tools: Anthropic.Tool[] = [{ name: 'get_weather', description: 'Current weather of a city', input_schema: WEATHER_SCHEMA }];
const THINKING = { type: 'enabled', budget_tokens: 2048 } as const;

/** Runs the tool loop to its end: the assistant content goes back as the SDK gave it (thinking blocks included). */
async function toolLoop(model: string, extra: { thinking?: typeof THINKING } = {}, stream = false) {
  const messages: Anthropic.MessageParam[] = [{ role: 'user', content: THREE_CITIES }];
  const called: string[] = [];
  for (let turn = 0; turn < 6; turn++) {
    const params = { model, max_tokens: 4096, messages, tools, ...extra };
    const message = stream ? await client.messages.stream(params).finalMessage() : await client.messages.create(params);
    messages.push({ role: 'assistant', content: message.content });
    if (message.stop_reason !== 'tool_use') return { messages, called, final: message };
    const results: Anthropic.ToolResultBlockParam[] = [];
    for (const block of message.content) {
      if (block.type !== 'tool_use') continue;
      const { location } = block.input as { location: string };
      called.push(location);
      results.push({ type: 'tool_result', tool_use_id: block.id, content: weatherIn(location) });
    }
    messages.push({ role: 'user', content: results });
  }
  throw new Error('the tool loop did not end');
}

const textOf = (message: Anthropic.Message) => message.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');

describe.each(Object.entries(PROVIDERS))('Messages → %s', (provider, model) => {
  it('plain', async () => {
    const message = await client.messages.create({ model, max_tokens: 200, messages: [{ role: 'user', content: 'hello there' }] });
    expect(message.type).toBe('message');
    expect(message.content).toEqual([{ type: 'text', text: 'Echo: hello there' }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.input_tokens).toBeGreaterThan(0);
  });

  it('streamed (MessageStream, finalMessage)', async () => {
    const stream = client.messages.stream({ model, max_tokens: 200, messages: [{ role: 'user', content: 'one two three' }] });
    const pieces: string[] = [];
    stream.on('text', (text) => pieces.push(text));
    const final = await stream.finalMessage();
    expect(pieces.join('')).toBe('Echo: one two three');
    expect(textOf(final)).toBe('Echo: one two three');
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });

  it.each([false, true])('tool round trip over 4 turns, 3 calls (streamed: %s)', async (stream) => {
    const { called, final } = await toolLoop(model, {}, stream);
    expect(called).toEqual(CITIES);
    expect(textOf(final)).toBe(`Echo: ${THREE_CITIES}`);
  });

  it('thinking on: thinking blocks, streamed too, and a tool loop that keeps them', async () => {
    const message = await client.messages.create({ model, max_tokens: 4096, thinking: THINKING, messages: [{ role: 'user', content: 'think first' }] });
    expect(message.content[0]).toMatchObject({ type: 'thinking', thinking: expect.stringContaining('think first') });
    expect(textOf(message)).toBe('Echo: think first');

    const stream = client.messages.stream({ model, max_tokens: 4096, thinking: THINKING, messages: [{ role: 'user', content: 'think aloud' }] });
    const thoughts: string[] = [];
    stream.on('thinking', (delta) => thoughts.push(delta));
    const final = await stream.finalMessage();
    expect(thoughts.join('')).toContain('think aloud');
    expect(final.content[0]!.type).toBe('thinking');
    expect(textOf(final)).toBe('Echo: think aloud');

    const { called, final: answer } = await toolLoop(model, { thinking: THINKING }, true);
    expect(called).toEqual(CITIES);
    expect(textOf(answer)).toBe(`Echo: ${THREE_CITIES}`);
    if (provider === 'Anthropic') {
      // Passed through: Anthropic checked every signed thinking block of the loop.
      const last = received(rig.standIn, '/anthropic/v1/messages').at(-1)!;
      expect(last.messages.filter((m: { role: string }) => m.role === 'assistant').map((m: { content: { type: string }[] }) => m.content[0]!.type)).toEqual([
        'thinking',
        'thinking',
        'thinking',
      ]);
    }
  });

  it('image input (base64)', async () => {
    const message = await client.messages.create({
      model,
      max_tokens: 200,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'describe this' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: TINY_PNG_BASE64 } },
          ],
        },
      ],
    });
    expect(textOf(message)).toBe('Echo: describe this');
    expect(rig.standIn.requests.at(-1)!.body).toContain(TINY_PNG_BASE64);
  });
});

describe('what the providers refuse reaches the client as their 400', () => {
  it('Anthropic: a tool_result without its tool_use', async () => {
    const refused = await client.messages
      .create({
        model: PROVIDERS.Anthropic,
        max_tokens: 100,
        tools,
        messages: [
          { role: 'user', content: THREE_CITIES },
          { role: 'assistant', content: 'Let me check.' },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_missing', content: weatherIn('Paris') }] },
        ],
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect((refused as Error).message).toContain('tool_use_id');
  });

  it('Anthropic: a thinking block with a bad signature', async () => {
    const refused = await client.messages
      .create({
        model: PROVIDERS.Anthropic,
        max_tokens: 4096,
        thinking: THINKING,
        messages: [
          { role: 'user', content: 'hi' },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'made up', signature: 'bm90IGEgc2lnbmF0dXJl' },
              { type: 'text', text: 'hello' },
            ],
          },
          { role: 'user', content: 'again' },
        ],
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect((refused as Error).message).toContain('signature');
  });

  it('Gemini: a tool_use whose id lost its thought signature', async () => {
    const refused = await client.messages
      .create({
        model: PROVIDERS.Gemini,
        max_tokens: 100,
        tools,
        messages: [
          { role: 'user', content: THREE_CITIES },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_plain', name: 'get_weather', input: { location: 'Paris' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_plain', content: weatherIn('Paris') }] },
        ],
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect((refused as Error).message).toContain('thought_signature');
  });
});

describe('prompt caching', () => {
  it('cache_control passes to Anthropic; cache reads come back as cache_read_input_tokens', async () => {
    const system: Anthropic.TextBlockParam[] = [{ type: 'text', text: 'A long, stable system prompt. '.repeat(40), cache_control: { type: 'ephemeral' } }];
    const first = await client.messages.create({ model: PROVIDERS.Anthropic, max_tokens: 100, system, messages: [{ role: 'user', content: 'first' }] });
    const second = await client.messages.create({ model: PROVIDERS.Anthropic, max_tokens: 100, system, messages: [{ role: 'user', content: 'second' }] });
    expect(first.usage.cache_creation_input_tokens).toBeGreaterThan(0);
    expect(second.usage.cache_read_input_tokens).toBeGreaterThan(0);
  });

  it.each(['OpenAI-protocol', 'Gemini'] as const)('%s: a repeated prefix is reported as cache_read_input_tokens, streamed too', async (provider) => {
    const params = {
      model: PROVIDERS[provider],
      max_tokens: 100,
      system: 'Stable instructions. '.repeat(40),
      messages: [{ role: 'user' as const, content: 'same question' }],
    };
    await client.messages.create(params);
    const again = await client.messages.stream(params).finalMessage();
    expect(again.usage.cache_read_input_tokens).toBeGreaterThan(0);
  });
});
