import { accumulateResponse } from 'openai/lib/responses/ResponseAccumulator';
import type { Response as SdkResponse, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { describe, expect, it } from 'vitest';
import { openai } from '../openai/adapter';
import { responsesToChat } from './request';
import { chatToResponse, responseMeta } from './response';
import { ResponsesRequest } from './schema';
import { encodeResponsesStream } from './stream';
import type { ChatChunk, PivotEvent } from '../pivot/chat';
import openaiToolStream from '../../../test/fixtures/protocols/openai/stream-tool-calls.sse?raw';
import { decodeFixture, encodeEvents, parseSse } from '../../../test/worker/helpers/streams';

// The Responses API translated through the pivot: requests (input items, tools, formats) to Chat
// Completions, completions back to Response objects, and pivot streams to the official event
// sequence, checked by the openai SDK's own accumulator (the code behind responses.stream()).

const request = (body: Record<string, unknown>) => ResponsesRequest.parse({ model: 'm', ...body });

const weather = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather',
  parameters: { type: 'object', properties: { location: { type: 'string' } } },
  strict: true,
};

describe('request → pivot', () => {
  it('a string input is one user message; instructions lead as the system message', () => {
    expect(responsesToChat(request({ input: 'Hi', instructions: 'Be brief.', max_output_tokens: 50, temperature: 0.2, top_p: 0.9 }))).toEqual({
      model: 'm',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
      ],
      max_tokens: 50,
      temperature: 0.2,
      top_p: 0.9,
    });
  });

  it('items: messages, images, function calls joined to their assistant turn, outputs as tool messages, reasoning dropped', () => {
    const pivot = responsesToChat(
      request({
        input: [
          { role: 'developer', content: 'Use tools.' },
          {
            type: 'message',
            role: 'user',
            content: [
              { type: 'input_text', text: 'Weather in Paris and Rome?' },
              { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'low' },
            ],
          },
          { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'two calls' }], encrypted_content: 'opaque' },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.' }] },
          { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"location":"Paris"}' },
          { type: 'function_call', call_id: 'call_2', name: 'get_weather', arguments: '{"location":"Rome"}' },
          { type: 'function_call_output', call_id: 'call_1', output: 'sunny' },
          { type: 'function_call_output', call_id: 'call_2', output: [{ type: 'input_text', text: 'rain' }] },
        ],
        tools: [weather],
        tool_choice: { type: 'function', name: 'get_weather' },
        parallel_tool_calls: true,
        stream: true,
      }),
    );
    expect(pivot.messages).toEqual([
      { role: 'system', content: 'Use tools.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather in Paris and Rome?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
        ],
      },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Rome"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      { role: 'tool', tool_call_id: 'call_2', content: 'rain' },
    ]);
    expect(pivot.tools).toEqual([
      { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: weather.parameters, strict: true } },
    ]);
    expect(pivot.tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
    expect(pivot.parallel_tool_calls).toBe(true);
    expect(pivot.stream_options).toEqual({ include_usage: true });
  });

  it('the stored conversation comes before this turn', () => {
    const history = [
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'first' }] },
      { id: 'msg_1', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'answer', annotations: [] }] },
    ];
    expect(responsesToChat(request({ input: 'second' }), history).messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'first' }] },
      { role: 'assistant', content: 'answer' },
      { role: 'user', content: [{ type: 'text', text: 'second' }] },
    ]);
  });

  it('text.format json_schema and json_object become response_format; reasoning effort is passed on', () => {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    expect(responsesToChat(request({ input: 'x', text: { format: { type: 'json_schema', name: 'out', schema, strict: true } } })).response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'out', schema, strict: true },
    });
    expect(responsesToChat(request({ input: 'x', text: { format: { type: 'json_object' } } })).response_format).toEqual({ type: 'json_object' });
    expect(responsesToChat(request({ input: 'x', reasoning: { effort: 'high' } })).reasoning_effort).toBe('high');
  });

  it('refuses what it cannot carry, by name, and an output without its call (as OpenAI does)', () => {
    const refusal = (body: Record<string, unknown>) => {
      try {
        responsesToChat(request(body));
      } catch (err) {
        return { status: (err as { status: number }).status, message: (err as Error).message };
      }
      throw new Error('accepted');
    };
    expect(refusal({ input: [{ type: 'function_call_output', call_id: 'call_x', output: 'ok' }] })).toEqual({
      status: 400,
      message: 'No tool call found for function call output with call_id call_x.',
    });
    expect(refusal({ input: [{ type: 'item_reference', id: 'msg_1' }] }).message).toContain('an input item of type "item_reference"');
    expect(refusal({ input: 'x', tools: [{ type: 'code_interpreter', container: { type: 'auto' } }] }).message).toContain('the "code_interpreter" tool');
    expect(refusal({ input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file_1' }] }] }).message).toContain('file_id');
    expect(refusal({ input: [{ type: 'function_call', call_id: 'c' }] })).toMatchObject({
      status: 400,
      message: expect.stringContaining('input[0] (function_call)'),
    });
  });
});

describe('pivot → Response', () => {
  it('a text completion: a message item, completed, with the usage in Responses terms', () => {
    const meta = responseMeta(request({ input: 'Hi', metadata: { k: 'v' } }), 'm');
    const answer = chatToResponse(
      {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1,
        model: 'm-2025',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hello', reasoning_content: 'think' }, finish_reason: 'stop' }],
        usage: {
          prompt_tokens: 10,
          completion_tokens: 5,
          total_tokens: 15,
          prompt_tokens_details: { cached_tokens: 4 },
          completion_tokens_details: { reasoning_tokens: 2 },
        },
      },
      meta,
    );
    expect(answer).toMatchObject({
      id: meta.id,
      object: 'response',
      status: 'completed',
      model: 'm-2025',
      metadata: { k: 'v' },
      store: true,
      output: [
        { type: 'reasoning', summary: [{ type: 'summary_text', text: 'think' }] },
        { type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Hello', annotations: [] }] },
      ],
      usage: {
        input_tokens: 10,
        input_tokens_details: { cached_tokens: 4 },
        output_tokens: 5,
        output_tokens_details: { reasoning_tokens: 2 },
        total_tokens: 15,
      },
    });
    expect(answer.id).toMatch(/^resp_/);
  });

  it('tool calls become function_call items; a length stop is incomplete', () => {
    const meta = responseMeta(request({ input: 'Hi' }), 'm');
    const calls = chatToResponse(
      {
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: null, tool_calls: [{ id: 'call_9', type: 'function', function: { name: 'f', arguments: '{}' } }] },
            finish_reason: 'tool_calls',
          },
        ],
      },
      meta,
    );
    expect(calls.output).toEqual([
      { id: expect.stringMatching(/^fc_/), type: 'function_call', status: 'completed', call_id: 'call_9', name: 'f', arguments: '{}' },
    ]);
    const cut = chatToResponse(
      {
        id: 'c',
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hel' }, finish_reason: 'length' }],
      },
      meta,
    );
    expect(cut).toMatchObject({ status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } });
  });
});

/** The SDK's own reading of a stream: every event applied in order, as responses.stream() does. */
function accumulate(events: ResponseStreamEvent[]): SdkResponse {
  let snapshot: SdkResponse | undefined;
  for (const event of events) snapshot = accumulateResponse(event, snapshot);
  return snapshot!;
}

const chunk = (delta: ChatChunk['choices'][number]['delta'], finish: string | null = null): PivotEvent => ({
  chunk: { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm-2025', choices: [{ index: 0, delta, finish_reason: finish }] },
});
const usageChunk: PivotEvent = {
  chunk: {
    id: 'c',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm-2025',
    choices: [],
    usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 },
  },
};

describe('pivot stream → Responses events', () => {
  it('text: the official sequence, numbered, and the SDK accumulates the same answer response.completed carries', async () => {
    const stored: unknown[] = [];
    const meta = responseMeta(request({ input: 'Hi', stream: true }), 'm');
    const text = await encodeEvents(
      [
        chunk({ role: 'assistant', content: '' }),
        chunk({ reasoning_content: 'hmm' }),
        chunk({ content: 'Hel' }),
        chunk({ content: 'lo' }),
        chunk({}, 'stop'),
        usageChunk,
      ],
      encodeResponsesStream(meta, { onDone: (response) => void stored.push(response) }),
    );
    const frames = parseSse(text);
    expect(frames.every((f) => f.event === f.data.type)).toBe(true);
    const events = frames.map((f) => f.data as ResponseStreamEvent);
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const final = accumulate(events);
    expect(final.output_text).toBe('Hello');
    expect(final.status).toBe('completed');
    expect(final.usage).toEqual({
      input_tokens: 7,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 3,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 10,
    });
    expect(final.output[0]).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text', text: 'hmm' }] });
    expect(stored).toEqual([(events.at(-1) as { response: unknown }).response]);
  });

  it('a recorded OpenAI stream of two tool calls: function_call_arguments deltas, .done with the whole arguments', async () => {
    const pivot = await decodeFixture(openaiToolStream, openai.chat.stream({ model: 'gpt-4o-mini' }));
    const meta = responseMeta(request({ input: 'Weather?', stream: true }), 'gpt-4o-mini');
    const events = parseSse(await encodeEvents(pivot, encodeResponsesStream(meta))).map((f) => f.data as ResponseStreamEvent);
    const types = events.map((e) => e.type);
    expect(types.filter((t) => t === 'response.function_call_arguments.delta').length).toBeGreaterThan(1);
    expect(types.at(-1)).toBe('response.completed');
    const done = events.find((e) => e.type === 'response.function_call_arguments.done')!;
    expect(done).toMatchObject({ name: 'get_weather', arguments: '{"location": "Paris"}' });
    const final = accumulate(events);
    expect(final.output).toEqual([
      {
        id: expect.stringMatching(/^fc_/),
        type: 'function_call',
        status: 'completed',
        call_id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
        name: 'get_weather',
        arguments: '{"location": "Paris"}',
      },
      {
        id: expect.stringMatching(/^fc_/),
        type: 'function_call',
        status: 'completed',
        call_id: 'call_ABCDEFGHIJ0123456789abcd',
        name: 'get_weather',
        arguments: '{"location": "Lyon"}',
      },
    ]);
  });

  it('two parallel calls then a failure: response.failed carries the error, nothing follows, nothing is stored', async () => {
    const stored: unknown[] = [];
    const meta = responseMeta(request({ input: 'x', stream: true }), 'm');
    const events = parseSse(
      await encodeEvents(
        [
          chunk({ tool_calls: [{ index: 0, id: 'call_a', function: { name: 'f', arguments: '{"a"' } }] }),
          chunk({ tool_calls: [{ index: 1, id: 'call_b', function: { name: 'g', arguments: '{}' } }] }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }),
          { failure: { status: 529, message: 'Overloaded' } },
          chunk({ content: 'late' }),
        ],
        encodeResponsesStream(meta, { onDone: (response) => void stored.push(response) }),
      ),
    ).map((f) => f.data as ResponseStreamEvent);
    expect(events.at(-1)).toMatchObject({ type: 'response.failed', response: { status: 'failed', error: { code: 'server_error', message: 'Overloaded' } } });
    expect(accumulate(events).output).toMatchObject([
      { call_id: 'call_a', arguments: '{"a":1}' },
      { call_id: 'call_b', arguments: '{}' },
    ]);
    expect(stored).toEqual([]);
  });

  it('a length stop ends with response.incomplete', async () => {
    const meta = responseMeta(request({ input: 'x', stream: true, max_output_tokens: 1 }), 'm');
    const events = parseSse(await encodeEvents([chunk({ content: 'Hel' }), chunk({}, 'length')], encodeResponsesStream(meta))).map((f) => f.data);
    expect(events.at(-1)).toMatchObject({
      type: 'response.incomplete',
      response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } },
    });
  });
});
