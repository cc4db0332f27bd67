import { ApiError, type Content, type FunctionDeclaration, type GenerateContentResponse, GoogleGenAI, type Part, Type } from '@google/genai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { received, startUnifiedRig, TINY_PNG_BASE64, type UnifiedRig } from '../unified-setup';
import { CITIES, PROVIDERS, THREE_CITIES, weatherIn } from './matrix';

// Conformance matrix, client = the Google GenAI SDK (@google/genai) on the Gemini-protocol door
// (/v1beta/models/<provider>/<model>:…), its streams read by its own parser, against an
// OpenAI-protocol, an Anthropic and a Gemini stand-in. The SDK is used as shipped: only its API key
// and base URL are set.

let rig: UnifiedRig;
let ai: GoogleGenAI;

beforeAll(async () => {
  rig = await startUnifiedRig();
  ai = new GoogleGenAI({ apiKey: rig.userKey, httpOptions: { baseUrl: rig.gateway.url } });
});
afterAll(async () => {
  await rig?.stop();
});
beforeEach(() => rig.standIn.reset());

// Declared the SDK's own way (Type.OBJECT): the other providers take JSON Schema and refuse "OBJECT".
const getWeather: FunctionDeclaration = {
  name: 'get_weather',
  description: 'Current weather of a city',
  parameters: { type: Type.OBJECT, properties: { location: { type: Type.STRING } }, required: ['location'] },
};
const THINKING = { includeThoughts: true, thinkingBudget: 2048 };

const textOf = (parts: Part[]) =>
  parts
    .filter((part) => part.text && !part.thought)
    .map((part) => part.text)
    .join('');
const thoughtsOf = (parts: Part[]) =>
  parts
    .filter((part) => part.thought)
    .map((part) => part.text ?? '')
    .join('');

/** One turn: the model's content as the SDK gave it (a stream's parts joined, as Gemini CLI keeps them). */
async function turn(model: string, contents: Content[], config: Record<string, unknown>, stream: boolean): Promise<Part[]> {
  if (!stream) return (await ai.models.generateContent({ model, contents, config })).candidates?.[0]?.content?.parts ?? [];
  const parts: Part[] = [];
  for await (const chunk of await ai.models.generateContentStream({ model, contents, config })) parts.push(...(chunk.candidates?.[0]?.content?.parts ?? []));
  return parts;
}

/** Runs the tool loop to its end: the model's content goes back as it came (signatures included), with a functionResponse per call. */
async function toolLoop(model: string, stream: boolean, thinking = false) {
  const contents: Content[] = [{ role: 'user', parts: [{ text: THREE_CITIES }] }];
  const called: string[] = [];
  const config = { tools: [{ functionDeclarations: [getWeather] }], ...(thinking ? { thinkingConfig: THINKING } : {}) };
  for (let round = 0; round < 6; round++) {
    const parts = await turn(model, contents, config, stream);
    contents.push({ role: 'model', parts });
    const calls = parts.flatMap((part) => (part.functionCall ? [part.functionCall] : []));
    if (calls.length === 0) return { called, parts };
    contents.push({
      role: 'user',
      parts: calls.map((call) => {
        const { location } = call.args as { location: string };
        called.push(location);
        return { functionResponse: { id: call.id, name: call.name, response: { output: weatherIn(location) } } };
      }),
    });
  }
  throw new Error('the tool loop did not end');
}

describe.each(Object.entries(PROVIDERS))('Google GenAI SDK → %s', (provider, model) => {
  it('plain', async () => {
    const response: GenerateContentResponse = await ai.models.generateContent({ model, contents: 'hello there' });
    expect(response.text).toBe('Echo: hello there');
    expect(response.candidates![0]!.finishReason).toBe('STOP');
    expect(response.usageMetadata!.promptTokenCount).toBeGreaterThan(0);
    expect(response.usageMetadata!.candidatesTokenCount).toBeGreaterThan(0);
  });

  it('streamed (alt=sse)', async () => {
    const pieces: string[] = [];
    let last: GenerateContentResponse | undefined;
    for await (const chunk of await ai.models.generateContentStream({ model, contents: 'one two three' })) {
      pieces.push(chunk.text ?? '');
      last = chunk;
    }
    expect(pieces.join('')).toBe('Echo: one two three');
    expect(last!.candidates![0]!.finishReason).toBe('STOP');
    expect(last!.usageMetadata!.candidatesTokenCount).toBeGreaterThan(0);
  });

  it.each([false, true])('tool round trip over 4 turns, 3 calls (streamed: %s)', async (stream) => {
    const { called, parts } = await toolLoop(model, stream);
    expect(called).toEqual(CITIES);
    expect(textOf(parts)).toBe(`Echo: ${THREE_CITIES}`);
  });

  it('thinking on: thoughts as thought parts, streamed too, and a tool loop that keeps what the provider signs', async () => {
    const response = await ai.models.generateContent({ model, contents: 'think first', config: { thinkingConfig: THINKING } });
    const parts = response.candidates![0]!.content!.parts!;
    expect(thoughtsOf(parts)).toContain('think first');
    expect(textOf(parts)).toBe('Echo: think first');

    const streamed = await turn(model, [{ role: 'user', parts: [{ text: 'think aloud' }] }], { thinkingConfig: THINKING }, true);
    expect(thoughtsOf(streamed)).toContain('think aloud');
    expect(textOf(streamed)).toBe('Echo: think aloud');

    const { called, parts: answer } = await toolLoop(model, true, true);
    expect(called).toEqual(CITIES);
    expect(textOf(answer)).toBe(`Echo: ${THREE_CITIES}`);
    if (provider === 'Anthropic') {
      // Translated: every turn of the loop gave Anthropic its signed thinking back.
      const last = received(rig.standIn, '/anthropic/v1/messages').at(-1)!;
      expect(last.thinking).toMatchObject({ type: 'enabled' });
      const assistants = last.messages.filter((m: { role: string }) => m.role === 'assistant');
      expect(assistants.map((m: { content: { type: string }[] }) => m.content[0]!.type)).toEqual(['thinking', 'thinking', 'thinking']);
    }
  });

  it('image input (inlineData)', async () => {
    const response = await ai.models.generateContent({
      model,
      contents: [{ role: 'user', parts: [{ text: 'describe this' }, { inlineData: { mimeType: 'image/png', data: TINY_PNG_BASE64 } }] }],
    });
    expect(response.text).toBe('Echo: describe this');
    expect(rig.standIn.requests.at(-1)!.body).toContain(TINY_PNG_BASE64);
  });

  it("countTokens: the provider's own count, or a 501 where it has no counting API", async () => {
    const counted = ai.models.countTokens({ model, contents: 'count these words' });
    if (provider === 'OpenAI-protocol') {
      const refused = await counted.catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ApiError);
      expect((refused as ApiError).status).toBe(501);
      return;
    }
    expect((await counted).totalTokens).toBeGreaterThan(0);
  });
});

describe('the model list and what the providers refuse', () => {
  it('models.list pages through the chat models, named models/<provider>/<model>', async () => {
    const names: string[] = [];
    for await (const entry of await ai.models.list({ config: { pageSize: 2 } })) names.push(entry.name!);
    expect(names).toEqual(expect.arrayContaining(Object.values(PROVIDERS).map((id) => `models/${id}`)));
    expect(new Set(names).size).toBe(names.length);
  });

  it("Gemini: a function call that lost its thought signature is refused with Gemini's own 400", async () => {
    const refused = await ai.models
      .generateContent({
        model: PROVIDERS.Gemini,
        contents: [
          { role: 'user', parts: [{ text: THREE_CITIES }] },
          { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { location: 'Paris' } } }] },
          { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: weatherIn('Paris') } } }] },
        ],
        config: { tools: [{ functionDeclarations: [getWeather] }] },
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(400);
    expect((refused as ApiError).message).toContain('thought_signature');
  });

  it.each(['OpenAI-protocol', 'Anthropic'] as const)("%s: a functionResponse that answers no call is refused in Google's shape", async (provider) => {
    const refused = await ai.models
      .generateContent({
        model: PROVIDERS[provider],
        contents: [{ role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: 'x' } } }] }],
      })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ApiError);
    expect((refused as ApiError).status).toBe(400);
    expect((refused as ApiError).message).toContain('answers no functionCall');
    expect(rig.standIn.requests).toHaveLength(0);
  });
});
