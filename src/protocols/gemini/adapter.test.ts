import { afterEach, describe, expect, it, vi } from 'vitest';
import { gemini } from './adapter';
import { ChatRequest } from '../pivot/chat';
import { EmbeddingsRequest } from '../pivot/embeddings';
import batchEmbed from '../../../test/fixtures/protocols/gemini/batch-embed.json?raw';
import countTokens from '../../../test/fixtures/protocols/gemini/count-tokens.json?raw';
import responseBlocked from '../../../test/fixtures/protocols/gemini/response-blocked.json?raw';
import responseFunctionCall from '../../../test/fixtures/protocols/gemini/response-function-call.json?raw';
import responseText from '../../../test/fixtures/protocols/gemini/response-text.json?raw';
import streamFunctionCall from '../../../test/fixtures/protocols/gemini/stream-function-call.sse?raw';
import streamText from '../../../test/fixtures/protocols/gemini/stream-text.sse?raw';
import openaiRequest from '../../../test/fixtures/protocols/openai/request-tools.json?raw';
import { mockUpstream } from '../../../test/worker/helpers/fetch';
import { chunks, decodeFixture, failures, textOf } from '../../../test/worker/helpers/streams';

afterEach(() => vi.restoreAllMocks());

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46]);
const ctx = { model: 'gemini-2.0-flash' };
const pivot = (body: unknown) => ChatRequest.parse(body);
const serveImage = (type = 'image/jpeg', status = 200) => mockUpstream(() => new Response(JPEG, { status, headers: { 'content-type': type } }));

describe('OpenAI request → Gemini generateContent', () => {
  it('translates system, multi-turn, images (https fetched and inlined), tool calls and results, config, tools', async () => {
    const { calls } = serveImage();
    const call = await gemini.chat.request(pivot(JSON.parse(openaiRequest)), ctx);
    expect(calls.map((c) => c.url)).toEqual(['https://images.example.com/window.jpg']);
    expect(call.operation).toBe('models/gemini-2.0-flash:generateContent');
    expect(call.search).toBe('');
    expect(call.body).toEqual({
      systemInstruction: { parts: [{ text: 'You are a helpful weather assistant.' }] },
      contents: [
        {
          role: 'user',
          parts: [
            { text: "What's the weather in Paris and in Lyon? Here is a photo of my window." },
            { inlineData: { mimeType: 'image/png', data: PNG } },
            { inlineData: { mimeType: 'image/jpeg', data: btoa(String.fromCharCode(...JPEG)) } },
          ],
        },
        {
          role: 'model',
          parts: [
            { functionCall: { name: 'get_weather', args: { location: 'Paris' } } },
            { functionCall: { name: 'get_weather', args: { location: 'Lyon' } } },
          ],
        },
        {
          role: 'user',
          parts: [
            { functionResponse: { name: 'get_weather', response: { temperature: 18, unit: 'celsius' } } },
            { functionResponse: { name: 'get_weather', response: { output: 'Sunny, 21 degrees' } } },
          ],
        },
        { role: 'model', parts: [{ text: 'Paris is at 18°C and Lyon is sunny at 21°C.' }] },
        { role: 'user', parts: [{ text: 'Thanks! Answer in JSON next time.' }] },
      ],
      generationConfig: {
        temperature: 1.4,
        topP: 0.9,
        maxOutputTokens: 300,
        stopSequences: ['\n\nUser:'],
        seed: 7,
        responseMimeType: 'application/json',
      },
      tools: [
        {
          functionDeclarations: [
            {
              name: 'get_weather',
              description: 'Get the current weather in a given location',
              parametersJsonSchema: {
                type: 'object',
                properties: { location: { type: 'string', description: 'The city, e.g. Paris' } },
                required: ['location'],
                additionalProperties: false,
              },
            },
          ],
        },
      ],
      toolConfig: { functionCallingConfig: { mode: 'AUTO' } },
    });
  });

  it('streams with streamGenerateContent?alt=sse; json_schema and named tool choice map to Gemini config', async () => {
    const tools = JSON.parse(openaiRequest).tools;
    const schema = { type: 'object', properties: { city: { type: 'string' } } };
    const call = await gemini.chat.request(
      pivot({
        model: 'x',
        stream: true,
        messages: [
          { role: 'developer', content: 'Be terse.' },
          { role: 'user', content: 'hi' },
        ],
        response_format: { type: 'json_schema', json_schema: { name: 'city', schema } },
        tools,
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
      }),
      { model: 'models/gemini-2.5-flash' },
    );
    expect(call).toMatchObject({
      operation: 'models/gemini-2.5-flash:streamGenerateContent',
      search: '?alt=sse',
      body: {
        systemInstruction: { parts: [{ text: 'Be terse.' }] },
        generationConfig: { responseMimeType: 'application/json', responseJsonSchema: schema },
        toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } },
      },
    });
  });

  it('refuses an image it cannot fetch or that is not an image, and a tool result that answers no call', async () => {
    const image = (url: string) => pivot({ model: 'x', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }] }] });
    serveImage('text/html');
    await expect(gemini.chat.request(image('https://example.com/page'), ctx)).rejects.toMatchObject({ status: 400, code: 'image_unavailable' });
    vi.restoreAllMocks();
    serveImage('image/png', 404);
    // One wording whatever went wrong: no status, no content type (images.test.ts).
    await expect(gemini.chat.request(image('https://example.com/gone.png'), ctx)).rejects.toMatchObject({
      status: 400,
      code: 'image_unavailable',
      message: expect.not.stringContaining('404'),
    });
    await expect(gemini.chat.request(image('ftp://example.com/a.png'), ctx)).rejects.toMatchObject({ status: 400 });
    const orphan = pivot({ model: 'x', messages: [{ role: 'tool', tool_call_id: 'call_nobody', content: 'x' }] });
    await expect(gemini.chat.request(orphan, ctx)).rejects.toMatchObject({ status: 400, code: 'unknown_tool_call' });
  });
});

describe('Gemini answer → OpenAI completion', () => {
  it('text without thought parts; thoughts counted as completion tokens', () => {
    expect(gemini.chat.response(JSON.parse(responseText), ctx)).toMatchObject({
      id: 'chatcmpl-kE2laNfvLpDjnvgPmP-GoQ4',
      object: 'chat.completion',
      model: 'gemini-2.5-flash',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hello! How can I help you today?' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 8, completion_tokens: 33, total_tokens: 41 },
    });
  });

  it('function calls as tool_calls with made-up distinct ids and finish_reason tool_calls', () => {
    const { choices } = gemini.chat.response(JSON.parse(responseFunctionCall), ctx);
    const calls = choices[0]!.message.tool_calls!;
    expect(calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)])).toEqual([
      ['get_weather', { location: 'Paris' }],
      ['get_weather', { location: 'Lyon' }],
    ]);
    expect(calls.every((c) => /^call_[A-Za-z0-9]{24}$/.test(c.id))).toBe(true);
    expect(calls[0]!.id).not.toBe(calls[1]!.id);
    expect(choices[0]!.message.content).toBeNull();
    expect(choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('a blocked prompt is finish_reason content_filter', () => {
    expect(gemini.chat.response(JSON.parse(responseBlocked), ctx).choices[0]).toMatchObject({ message: { content: '' }, finish_reason: 'content_filter' });
  });
});

describe('Gemini alt=sse stream (CRLF framed) → OpenAI chunks', () => {
  it('text deltas, then finish and usage at the end', async () => {
    const events = await decodeFixture(streamText, gemini.chat.stream(ctx));
    expect(failures(events)).toEqual([]);
    expect(chunks(events)[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    expect(textOf(events)).toBe('Hello there, how can I help?');
    expect(chunks(events).at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks(events).at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } });
    expect(new Set(chunks(events).map((c) => c.id)).size).toBe(1);
  });

  it('function calls arrive whole: one tool_calls delta each, indexed in order', async () => {
    const events = await decodeFixture(streamFunctionCall, gemini.chat.stream(ctx));
    const calls = chunks(events).flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls.map((c) => [c.index, c.function?.name, c.function?.arguments])).toEqual([
      [0, 'get_weather', '{"location":"Paris"}'],
      [1, 'get_weather', '{"location":"Lyon"}'],
    ]);
    expect(textOf(events)).toBe('Checking both cities.');
    expect(chunks(events).at(-2)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('an error event or a stream without finishReason is a failure', async () => {
    const error = 'data: {"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}\r\n\r\n';
    expect(failures(await decodeFixture(error, gemini.chat.stream(ctx)))).toEqual([{ status: 503, message: 'The model is overloaded.' }]);
    const cut = streamText.split('\r\n\r\n').slice(0, 2).join('\r\n\r\n') + '\r\n\r\n';
    expect(failures(await decodeFixture(cut, gemini.chat.stream(ctx)))).toEqual([{ status: 502, message: expect.stringContaining('ended before') }]);
  });
});

describe('Embeddings and token counts', () => {
  const embeddings = gemini.embeddings!;
  const req = EmbeddingsRequest.parse({ model: 'google/text-embedding-004', input: ['first', 'second'], dimensions: 4 });

  it('OpenAI embeddings → batchEmbedContents, one request per input', () => {
    expect(embeddings.request(req, { model: 'text-embedding-004' })).toEqual({
      operation: 'models/text-embedding-004:batchEmbedContents',
      search: '',
      body: {
        requests: [
          { model: 'models/text-embedding-004', content: { parts: [{ text: 'first' }] }, outputDimensionality: 4 },
          { model: 'models/text-embedding-004', content: { parts: [{ text: 'second' }] }, outputDimensionality: 4 },
        ],
      },
    });
    expect(() => embeddings.request(EmbeddingsRequest.parse({ model: 'x', input: [1, 2, 3] }), ctx)).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('batchEmbedContents → OpenAI list, as floats or as base64 float32', () => {
    const floats = embeddings.response(JSON.parse(batchEmbed), req, { model: 'text-embedding-004' });
    expect(floats).toMatchObject({ object: 'list', model: 'text-embedding-004', data: [{ object: 'embedding', index: 0 }, { index: 1 }] });
    expect(floats.data[0]!.embedding).toEqual([0.013168523, -0.008711934, -0.046782676, 0.00069968984]);
    const base64 = embeddings.response(JSON.parse(batchEmbed), { ...req, encoding_format: 'base64' }, ctx);
    const bytes = Uint8Array.from(atob(base64.data[1]!.embedding as string), (ch) => ch.charCodeAt(0));
    expect(Array.from(new Float32Array(bytes.buffer))).toEqual([-0.0153231, 0.02051377, 0.0049110353, -0.0351425].map(Math.fround));
  });

  it('countTokens counts the whole request (system and tools included) and reads totalTokens', async () => {
    const counter = gemini.countTokens!;
    const call = await counter.request(
      pivot({
        model: 'x',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'hi' },
        ],
      }),
      ctx,
    );
    expect(call).toEqual({
      operation: 'models/gemini-2.0-flash:countTokens',
      search: '',
      body: {
        generateContentRequest: {
          model: 'models/gemini-2.0-flash',
          contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
          systemInstruction: { parts: [{ text: 'Be brief.' }] },
        },
      },
    });
    expect(counter.response(JSON.parse(countTokens))).toBe(31);
  });
});
