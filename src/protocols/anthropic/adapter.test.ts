import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../errors';
import { anthropic, anthropicClient } from './adapter';
import { DEFAULT_MAX_TOKENS } from './request';
import { MessagesRequest } from './schema';
import { openai } from '../openai/adapter';
import { ChatCompletion, ChatRequest } from '../pivot/chat';
import error429 from '../../../test/fixtures/protocols/anthropic/error-429.json?raw';
import messageText from '../../../test/fixtures/protocols/anthropic/message-text.json?raw';
import messageToolUse from '../../../test/fixtures/protocols/anthropic/message-tool-use.json?raw';
import anthropicRequest from '../../../test/fixtures/protocols/anthropic/request-tools.json?raw';
import streamError from '../../../test/fixtures/protocols/anthropic/stream-error.sse?raw';
import streamText from '../../../test/fixtures/protocols/anthropic/stream-text.sse?raw';
import streamToolUse from '../../../test/fixtures/protocols/anthropic/stream-tool-use.sse?raw';
import completionText from '../../../test/fixtures/protocols/openai/completion-text.json?raw';
import completionToolCalls from '../../../test/fixtures/protocols/openai/completion-tool-calls.json?raw';
import openaiRequest from '../../../test/fixtures/protocols/openai/request-tools.json?raw';
import openaiStreamText from '../../../test/fixtures/protocols/openai/stream-text.sse?raw';
import openaiStreamToolCalls from '../../../test/fixtures/protocols/openai/stream-tool-calls.sse?raw';
import { chunks, decodeFixture, encodeEvents, failures, parseSse, textOf } from '../../../test/worker/helpers/streams';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const ctx = { model: 'claude-sonnet-4-5', maxOutputTokens: 64000 };
const pivot = (body: unknown) => ChatRequest.parse(body);
const toMessages = async (body: unknown, context = ctx) => (await anthropic.chat.request(pivot(body), context)).body;

describe('OpenAI request → Anthropic Messages request', () => {
  it('translates system, multi-turn, images, tool calls and results, sampling, stop, tools and tool choice', async () => {
    const call = await anthropic.chat.request(pivot(JSON.parse(openaiRequest)), ctx);
    expect(call.operation).toBe('messages');
    expect(call.body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 300,
      system: 'You are a helpful weather assistant.',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: "What's the weather in Paris and in Lyon? Here is a photo of my window." },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
            { type: 'image', source: { type: 'url', url: 'https://images.example.com/window.jpg' } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA', name: 'get_weather', input: { location: 'Paris' } },
            { type: 'tool_use', id: 'call_ABCDEFGHIJ0123456789abcd', name: 'get_weather', input: { location: 'Lyon' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA', content: '{"temperature":18,"unit":"celsius"}' },
            { type: 'tool_result', tool_use_id: 'call_ABCDEFGHIJ0123456789abcd', content: 'Sunny, 21 degrees' },
          ],
        },
        { role: 'assistant', content: [{ type: 'text', text: 'Paris is at 18°C and Lyon is sunny at 21°C.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Thanks! Answer in JSON next time.' }] },
      ],
      // OpenAI's 0–2 range is clamped to Anthropic's 0–1.
      temperature: 1,
      top_p: 0.9,
      stop_sequences: ['\n\nUser:'],
      tools: [
        {
          name: 'get_weather',
          description: 'Get the current weather in a given location',
          input_schema: {
            type: 'object',
            properties: { location: { type: 'string', description: 'The city, e.g. Paris' } },
            required: ['location'],
            additionalProperties: false,
          },
        },
      ],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      metadata: { user_id: 'user-1234' },
    });
  });

  it('takes max_tokens from max_completion_tokens, else the vault limit, else a default', async () => {
    const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    expect((await toMessages({ ...base, max_completion_tokens: 50, max_tokens: 9 })).max_tokens).toBe(50);
    expect((await toMessages(base)).max_tokens).toBe(64000);
    expect((await toMessages(base, { model: 'm' } as typeof ctx)).max_tokens).toBe(DEFAULT_MAX_TOKENS);
  });

  it('maps tool_choice required / none / a named function, and streams when asked', async () => {
    const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }], tools: JSON.parse(openaiRequest).tools };
    expect((await toMessages({ ...base, tool_choice: 'required' })).tool_choice).toEqual({ type: 'any' });
    expect((await toMessages({ ...base, tool_choice: 'none' })).tool_choice).toEqual({ type: 'none' });
    const named = await toMessages({ ...base, tool_choice: { type: 'function', function: { name: 'get_weather' } }, stream: true });
    expect(named).toMatchObject({ tool_choice: { type: 'tool', name: 'get_weather' }, stream: true });
    expect((await toMessages({ ...base, stop: 'END' })).stop_sequences).toEqual(['END']);
  });

  it('maps a tool id Anthropic would refuse to one it accepts, the same in the call and in its result', async () => {
    const body = await toMessages({
      model: 'm',
      messages: [
        { role: 'user', content: 'time?' },
        { role: 'assistant', content: '', tool_calls: [{ id: 'functions.get_time:0', type: 'function', function: { name: 'get_time', arguments: '' } }] },
        { role: 'tool', tool_call_id: 'functions.get_time:0', content: '12:00' },
      ],
    });
    const [, assistant, user] = body.messages as { content: { id?: string; tool_use_id?: string; input?: unknown }[] }[];
    expect(assistant!.content).toEqual([{ type: 'tool_use', id: 'functions_get_time_0', name: 'get_time', input: {} }]);
    expect(user!.content[0]!.tool_use_id).toBe('functions_get_time_0');
  });

  it('refuses with a 400 what Anthropic cannot take', async () => {
    const user = (content: unknown) => ({ model: 'm', messages: [{ role: 'user', content }] });
    await expect(toMessages(user([{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }]))).rejects.toMatchObject({ status: 400 });
    await expect(toMessages({ ...user('hi'), n: 2 })).rejects.toMatchObject({ status: 400 });
    await expect(toMessages({ model: 'm', messages: [{ role: 'function', name: 'f', content: 'x' }] })).rejects.toBeInstanceOf(GatewayError);
    const badArgs = { model: 'm', messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{oops' } }] }] };
    await expect(toMessages(badArgs)).rejects.toMatchObject({ status: 400, code: 'invalid_tool_arguments' });
  });
});

describe('Anthropic message → OpenAI completion', () => {
  it('reads text, stop reason and usage (cached prompt tokens counted in the prompt)', () => {
    const completion = anthropic.chat.response(JSON.parse(messageText), ctx);
    expect(completion).toMatchObject({
      id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF',
      object: 'chat.completion',
      model: 'claude-sonnet-4-5-20250929',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi! My name is Claude.' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 3095, completion_tokens: 503, total_tokens: 3598, prompt_tokens_details: { cached_tokens: 1000 } },
    });
  });

  it('reads tool use as tool_calls with JSON arguments, dropping thinking', () => {
    const { choices } = anthropic.chat.response(JSON.parse(messageToolUse), ctx);
    expect(choices[0]).toMatchObject({
      message: {
        content: "I'll check the current weather in San Francisco for you.",
        tool_calls: [{ id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather' } }],
      },
      finish_reason: 'tool_calls',
    });
    expect(JSON.parse(choices[0]!.message.tool_calls![0]!.function.arguments)).toEqual({ location: 'San Francisco, CA', unit: 'celsius' });
  });

  it('refuses an answer that is not a message (an error body) with a 502', () => {
    expect(() => anthropic.chat.response(JSON.parse(error429), ctx)).toThrow(expect.objectContaining({ status: 502 }));
  });
});

describe('Anthropic event stream → OpenAI chunks', () => {
  it('text: role first, text deltas, finish, then usage', async () => {
    const events = await decodeFixture(streamText, anthropic.chat.stream(ctx));
    const list = chunks(events);
    expect(list[0]!.choices[0]!.delta).toEqual({ role: 'assistant', content: '' });
    expect(textOf(events)).toBe('Hello!');
    expect(list.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(list.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 25, completion_tokens: 15, total_tokens: 40 } });
    expect(new Set(list.map((c) => c.id))).toEqual(new Set(['msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY']));
    expect(list.every((c) => c.model === 'claude-sonnet-4-5-20250929')).toBe(true);
  });

  it('thinking skipped, text, then a tool call whose arguments arrive as deltas', async () => {
    const events = await decodeFixture(streamToolUse, anthropic.chat.stream(ctx));
    expect(failures(events)).toEqual([]);
    expect(textOf(events)).toBe("Okay, let's check the weather.");
    const calls = chunks(events).flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(calls[0]).toEqual({ index: 0, id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', type: 'function', function: { name: 'get_weather', arguments: '' } });
    expect(calls.map((c) => c.function?.arguments ?? '').join('')).toBe('{"location": "San Francisco, CA"}');
    expect(calls.every((c) => c.index === 0)).toBe(true);
    expect(chunks(events).at(-2)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('an error event ends the stream with its status (overloaded = 529)', async () => {
    const events = await decodeFixture(streamError, anthropic.chat.stream(ctx));
    expect(textOf(events)).toBe('Once upon');
    expect(events.at(-1)).toEqual({ failure: { status: 529, message: 'Overloaded' } });
  });

  it('a stream cut before message_stop is reported, not passed off as complete', async () => {
    const cut = streamText.slice(0, streamText.indexOf('event: message_delta'));
    const events = await decodeFixture(cut, anthropic.chat.stream(ctx));
    expect(events.at(-1)).toEqual({ failure: { status: 502, message: expect.stringContaining('ended before') } });
    expect(chunks(events).some((c) => c.choices[0]?.finish_reason)).toBe(false);
  });
});

describe('Anthropic client request → OpenAI request', () => {
  it('translates system blocks, images, tool use and results (images of results after them), tools, choice, stop, stream', () => {
    const req = anthropicClient.toPivot(MessagesRequest.parse(JSON.parse(anthropicRequest)));
    const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } };
    expect(req).toEqual({
      model: 'claude-sonnet-4-5',
      messages: [
        { role: 'system', content: 'You are a helpful weather assistant.\n\nBe brief.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: "What's the weather in Paris? Here is my window." },
            image,
            { type: 'image_url', image_url: { url: 'https://images.example.com/window.jpg' } },
          ],
        },
        {
          role: 'assistant',
          content: 'Let me check.',
          reasoning_content: 'The user wants the weather in Paris.',
          thinking_blocks: [
            { type: 'thinking', thinking: 'The user wants the weather in Paris.', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds...' },
          ],
          tool_calls: [{ id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } }],
        },
        { role: 'tool', tool_call_id: 'toolu_01A09q90qw90lq917835lq9', content: '18 degrees' },
        { role: 'user', content: [image, { type: 'text', text: 'And is that warm?' }] },
        { role: 'assistant', content: 'Mild.' },
        { role: 'tool', tool_call_id: 'toolu_01A09q90qw90lq917835lq9', content: 'Error: station offline' },
      ],
      max_tokens: 1024,
      temperature: 0.5,
      top_p: 0.9,
      stop: ['\n\nHuman:'],
      stream: true,
      stream_options: { include_usage: true },
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Get the current weather in a given location',
            parameters: {
              type: 'object',
              properties: { location: { type: 'string', description: 'The city, e.g. Paris' } },
              required: ['location'],
            },
          },
        },
      ],
      tool_choice: 'required',
      parallel_tool_calls: false,
      user: 'user-1234',
    });
    expect(ChatRequest.safeParse(req).success).toBe(true);
  });

  it('carries the web search server tool as web_search_options; refuses other server tools and document blocks with a 400', () => {
    const base = { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
    const location = { type: 'approximate', city: 'Lyon', country: 'FR' };
    const webSearch = { ...base, tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 5, user_location: location }] };
    const carried = anthropicClient.toPivot(MessagesRequest.parse(webSearch));
    expect(carried.web_search_options).toEqual({ user_location: { type: 'approximate', approximate: { city: 'Lyon', country: 'FR' } } });
    expect(carried.tools).toBeUndefined();
    const codeExecution = { ...base, tools: [{ type: 'code_execution_20250825', name: 'code_execution' }] };
    expect(() => anthropicClient.toPivot(MessagesRequest.parse(codeExecution))).toThrow(expect.objectContaining({ status: 400 }));
    const pdf = {
      ...base,
      messages: [{ role: 'user', content: [{ type: 'document', source: { type: 'base64', media_type: 'application/pdf', data: 'JVBERi0=' } }] }],
    };
    expect(() => anthropicClient.toPivot(MessagesRequest.parse(pdf))).toThrow(expect.objectContaining({ status: 400 }));
  });
});

describe('OpenAI completion → Anthropic client message', () => {
  const asked = pivot({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] });

  it('text with end_turn and usage, naming the model as the client asked for it', () => {
    expect(anthropicClient.fromPivot(ChatCompletion.parse(JSON.parse(completionText)), asked)).toEqual({
      id: expect.stringMatching(/^msg_/),
      type: 'message',
      role: 'assistant',
      model: 'openai/gpt-4o-mini',
      content: [{ type: 'text', text: 'Hello! How can I help you today?' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 19, output_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    });
  });

  it('tool calls as tool_use blocks with parsed input and Anthropic-safe ids', () => {
    const message = anthropicClient.fromPivot(ChatCompletion.parse(JSON.parse(completionToolCalls)), asked) as Record<string, unknown>;
    expect(message).toMatchObject({
      content: [
        { type: 'tool_use', id: 'call_abc123', name: 'get_weather', input: { location: 'Boston, MA' } },
        { type: 'tool_use', id: 'call_weird_id_2', name: 'get_time', input: {} },
      ],
      stop_reason: 'tool_use',
      usage: { input_tokens: 18, output_tokens: 17, cache_read_input_tokens: 64 },
    });
  });
});

describe('OpenAI chunks → Anthropic client events', () => {
  const encode = async (sse: string) =>
    parseSse(
      await encodeEvents(
        await decodeFixture(sse, openai.chat.stream({ model: 'gpt-4o-mini' })),
        anthropicClient.streamFromPivot(pivot({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })),
      ),
    );

  it('text: the exact event order, every event named, usage in message_delta', async () => {
    const events = await encode(openaiStreamText);
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events.every((e) => e.event === e.data.type)).toBe(true);
    expect(events[0]!.data.message).toMatchObject({ type: 'message', role: 'assistant', content: [], stop_reason: null, model: 'openai/gpt-4o-mini' });
    expect(events[1]!.data).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    expect(
      events
        .slice(2, 5)
        .map((e) => e.data.delta.text)
        .join(''),
    ).toBe('Hello there!');
    expect(events[6]!.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { input_tokens: 9, output_tokens: 3, cache_read_input_tokens: 0 },
    });
  });

  it('parallel tool calls: one tool_use block each, arguments as input_json_delta', async () => {
    const events = await encode(openaiStreamToolCalls);
    expect(events.map((e) => `${e.event}:${e.data.index ?? ''}`)).toEqual([
      'message_start:',
      'content_block_start:0',
      'content_block_delta:0',
      'content_block_delta:0',
      'content_block_stop:0',
      'content_block_start:1',
      'content_block_delta:1',
      'content_block_stop:1',
      'message_delta:',
      'message_stop:',
    ]);
    expect(events[1]!.data.content_block).toEqual({ type: 'tool_use', id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA', name: 'get_weather', input: {} });
    expect(
      events
        .filter((e) => e.data.index === 0 && e.event === 'content_block_delta')
        .map((e) => e.data.delta.partial_json)
        .join(''),
    ).toBe('{"location": "Paris"}');
    expect(events[8]!.data.delta.stop_reason).toBe('tool_use');
  });

  it('a failure mid-stream ends with an Anthropic error event, nothing after it', async () => {
    const decoded = await decodeFixture(openaiStreamText, openai.chat.stream({ model: 'm' }));
    const text = await encodeEvents(
      [...decoded.slice(0, 2), { failure: { status: 504, message: 'too slow' } }, ...decoded.slice(2)],
      anthropicClient.streamFromPivot(pivot({ model: 'm', messages: [{ role: 'user', content: 'x' }] })),
    );
    const events = parseSse(text);
    expect(events.at(-1)).toEqual({ event: 'error', data: { type: 'error', error: { type: 'timeout_error', message: 'too slow' } } });
    expect(events.some((e) => e.event === 'message_stop')).toBe(false);
  });

  it('round trip: an Anthropic stream decoded and re-encoded keeps its text and tool input', async () => {
    const decoded = await decodeFixture(streamToolUse, anthropic.chat.stream(ctx));
    const events = parseSse(await encodeEvents(decoded, anthropicClient.streamFromPivot(pivot({ model: 'm', messages: [{ role: 'user', content: 'x' }] }))));
    const starts = events.filter((e) => e.event === 'content_block_start').map((e) => e.data.content_block);
    // The thinking comes back as a thinking block (its signature stays in the pivot's thinking_blocks).
    expect(starts).toEqual([
      { type: 'thinking', thinking: '', signature: '' },
      { type: 'text', text: '' },
      { type: 'tool_use', id: 'toolu_01T1x1fJ34qAmk2tNTrN7Up6', name: 'get_weather', input: {} },
    ]);
    const json = events
      .filter((e) => e.data.delta?.type === 'input_json_delta')
      .map((e) => e.data.delta.partial_json)
      .join('');
    expect(JSON.parse(json)).toEqual({ location: 'San Francisco, CA' });
    expect(events.at(-2)!.data).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { input_tokens: 472, output_tokens: 89 } });
    expect(events[0]!.data.message.id).toBe('msg_014p7gG3wDgGV9EUtLvnow3U');
  });
});

describe('a passed-through Anthropic answer names the model as the client asked for it', () => {
  const rename = anthropicClient.renameAnswerModel!;
  const message = { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'Hi' }] };

  it('a message: only `model` changes', async () => {
    const answer = new Response(JSON.stringify(message), { headers: { 'content-type': 'application/json', 'x-switchyard-attempts': '1' } });
    const renamed = await rename(answer, 'anthropic/claude-sonnet-4-5');
    expect(await renamed.json()).toEqual({ ...message, model: 'anthropic/claude-sonnet-4-5' });
    expect(renamed.headers.get('x-switchyard-attempts')).toBe('1');
  });

  it('a stream: message_start renamed, every later byte as it came, even when the first event arrives in pieces', async () => {
    const start = `event: message_start\r\ndata: ${JSON.stringify({ type: 'message_start', message: { ...message, content: [] } })}\r\n\r\n`;
    const rest = 'event: ping\ndata: {"type":"ping","model":"claude-sonnet-4-5"}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n';
    const pieces = [start.slice(0, 30), start.slice(30, 80), start.slice(80) + rest.slice(0, 20), rest.slice(20)];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const piece of pieces) controller.enqueue(new TextEncoder().encode(piece));
        controller.close();
      },
    });
    const renamed = await rename(new Response(body, { headers: { 'content-type': 'text/event-stream' } }), 'anthropic/claude-sonnet-4-5');
    const text = await renamed.text();
    const [first, ...later] = text.split('\r\n\r\n');
    expect(JSON.parse(first!.split('\r\n')[1]!.slice(6)).message).toEqual({ ...message, content: [], model: 'anthropic/claude-sonnet-4-5' });
    expect(later.join('\r\n\r\n')).toBe(rest);
  });

  it('what is not a message passes as it came', async () => {
    for (const text of ['not json', '{"type":"error","error":{"type":"overloaded_error"}}']) {
      expect(await (await rename(new Response(text, { headers: { 'content-type': 'application/json' } }), 'x/y')).text()).toBe(text);
    }
  });
});
