import { accumulateResponse } from 'openai/lib/responses/ResponseAccumulator';
import type { Response as SdkResponse, ResponseStreamEvent } from 'openai/resources/responses/responses';
import { describe, expect, it } from 'vitest';
import { anthropic } from '../anthropic/adapter';
import { gemini } from '../gemini/adapter';
import type { ChatChunk, ChatCompletion, PivotEvent } from '../pivot/chat';
import { responsesToChat } from './request';
import { chatToResponse, responseMeta } from './response';
import { ResponsesRequest } from './schema';
import { encodeResponsesStream } from './stream';
import { pivotToolName } from './tools';
import { decodeFixture, encodeEvents, parseSse } from '../../../test/worker/helpers/streams';

// What coding agents send by default through the Responses API, translated for providers that do
// not speak it: Codex's sub-agent `namespace` tool, `custom` (freeform) tools such as apply_patch,
// the hosted `web_search` tool, and the reasoning items they send back.

const request = (body: Record<string, unknown>) => ResponsesRequest.parse({ model: 'm', ...body });

/** Codex 0.171.0's sub-agent tools, as it sends them on every turn (two of them, trimmed). */
const agents = {
  type: 'namespace',
  name: 'multi_agent_v1',
  description: 'Tools for spawning and managing sub-agents.',
  tools: [
    {
      type: 'function',
      name: 'spawn_agent',
      description: 'Spawn a sub-agent.',
      strict: false,
      parameters: { type: 'object', properties: { task: { type: 'string' } } },
    },
    {
      type: 'function',
      name: 'close_agent',
      description: 'Close an agent.',
      strict: false,
      parameters: { type: 'object', properties: { target: { type: 'string' } } },
    },
  ],
};

const applyPatch = {
  type: 'custom',
  name: 'apply_patch',
  description: 'Use the `apply_patch` tool to edit files.',
  format: { type: 'grammar', syntax: 'lark', definition: 'start: begin_patch hunk+ end_patch' },
};

const PROVIDER_NAME = /^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/;

function accumulate(events: ResponseStreamEvent[]): SdkResponse {
  let snapshot: SdkResponse | undefined;
  for (const event of events) snapshot = accumulateResponse(event, snapshot);
  return snapshot!;
}

const chunk = (delta: ChatChunk['choices'][number]['delta'], finish: string | null = null): PivotEvent => ({
  chunk: { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] },
});

const completion = (message: ChatCompletion['choices'][number]['message'], finish = 'stop'): ChatCompletion => ({
  id: 'c',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: [{ index: 0, message, finish_reason: finish }],
  usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
});

const streamEvents = async (body: Record<string, unknown>, events: PivotEvent[]) =>
  parseSse(await encodeEvents(events, encodeResponsesStream(responseMeta(request(body), 'm')))).map((f) => f.data as ResponseStreamEvent);

describe('namespace tools', () => {
  it('are flattened into functions whose names every provider takes, descriptions kept', () => {
    const pivot = responsesToChat(request({ input: 'hi', tools: [agents] }));
    expect(pivot.tools!.map((tool) => tool.function.name)).toEqual(['multi_agent_v1__spawn_agent', 'multi_agent_v1__close_agent']);
    expect(pivot.tools![0]!.function).toMatchObject({
      description: 'Tools for spawning and managing sub-agents.\n\nSpawn a sub-agent.',
      parameters: agents.tools[0]!.parameters,
    });
  });

  it('names a provider would refuse are made to fit, the same way every time, and stay distinct', () => {
    const long = { name: 'x'.repeat(70), namespace: 'crm.v2' };
    const dotted = pivotToolName({ name: 'lookup', namespace: 'crm.v2' });
    expect(dotted).toMatch(PROVIDER_NAME);
    expect(dotted).toMatch(/^crm_v2__lookup_/);
    expect(pivotToolName(long)).toMatch(PROVIDER_NAME);
    expect(pivotToolName(long)).toBe(pivotToolName({ ...long }));
    expect(pivotToolName({ name: 'lookup', namespace: 'crm_v2' })).not.toBe(dotted);
    expect(pivotToolName({ name: '9lives' })).toMatch(PROVIDER_NAME);
    expect(pivotToolName({ name: 'get_weather' })).toBe('get_weather');
  });

  it('two tools with one name for the provider are a 400 naming both', () => {
    const clash = { type: 'function', name: 'multi_agent_v1__spawn_agent', parameters: { type: 'object' } };
    expect(() => responsesToChat(request({ input: 'hi', tools: [agents, clash] }))).toThrow(
      expect.objectContaining({ status: 400, message: expect.stringContaining('"multi_agent_v1.spawn_agent" and "multi_agent_v1__spawn_agent"') }),
    );
  });

  it("a call comes back as OpenAI's namespaced function_call, and goes upstream again under the flat name", () => {
    const body = { input: 'spawn one', tools: [agents] };
    const call = { id: 'call_1', type: 'function', function: { name: 'multi_agent_v1__spawn_agent', arguments: '{"task":"t"}' } };
    const answer = chatToResponse(completion({ role: 'assistant', content: null, tool_calls: [call] }, 'tool_calls'), responseMeta(request(body), 'm'));
    expect(answer.output).toEqual([
      {
        id: expect.stringMatching(/^fc_/),
        type: 'function_call',
        status: 'completed',
        call_id: 'call_1',
        name: 'spawn_agent',
        namespace: 'multi_agent_v1',
        arguments: '{"task":"t"}',
      },
    ]);
    const next = responsesToChat(
      request({
        tools: [agents],
        input: [{ role: 'user', content: 'spawn one' }, ...answer.output, { type: 'function_call_output', call_id: 'call_1', output: 'spawned' }],
      }),
    );
    expect(next.messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'multi_agent_v1__spawn_agent', arguments: '{"task":"t"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'spawned' },
    ]);
  });

  it('streamed: the item carries its namespace from output_item.added on', async () => {
    const events = await streamEvents({ input: 'x', tools: [agents], stream: true }, [
      chunk({
        role: 'assistant',
        tool_calls: [{ index: 0, id: 'call_2', type: 'function', function: { name: 'multi_agent_v1__close_agent', arguments: '' } }],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"target":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"a1"}' } }] }),
      chunk({}, 'tool_calls'),
    ]);
    const added = events.find((e) => e.type === 'response.output_item.added')!;
    expect(added).toMatchObject({ item: { type: 'function_call', name: 'close_agent', namespace: 'multi_agent_v1' } });
    expect(events.find((e) => e.type === 'response.function_call_arguments.done')).toMatchObject({ name: 'close_agent', arguments: '{"target":"a1"}' });
    expect(accumulate(events).output).toEqual([
      expect.objectContaining({ type: 'function_call', call_id: 'call_2', name: 'close_agent', namespace: 'multi_agent_v1', arguments: '{"target":"a1"}' }),
    ]);
  });
});

describe('custom (freeform) tools', () => {
  const patch = '*** Begin Patch\n*** Add File: a.txt\n+héllo "quoted"\n*** End Patch';

  it('become a function of one string, its grammar told to the model', () => {
    const [tool] = responsesToChat(request({ input: 'x', tools: [applyPatch] })).tools!;
    expect(tool!.function).toMatchObject({
      name: 'apply_patch',
      description: 'Use the `apply_patch` tool to edit files.',
      parameters: {
        type: 'object',
        required: ['input'],
        properties: { input: { type: 'string', description: expect.stringContaining('start: begin_patch') } },
      },
    });
  });

  it('a call is a custom_tool_call with its text; the call and its output go back as a tool call and result', () => {
    const body = { input: 'patch it', tools: [applyPatch] };
    const call = { id: 'call_p', type: 'function', function: { name: 'apply_patch', arguments: JSON.stringify({ input: patch }) } };
    const answer = chatToResponse(completion({ role: 'assistant', content: null, tool_calls: [call] }, 'tool_calls'), responseMeta(request(body), 'm'));
    expect(answer.output).toEqual([
      { id: expect.stringMatching(/^ctc_/), type: 'custom_tool_call', status: 'completed', call_id: 'call_p', name: 'apply_patch', input: patch },
    ]);
    const next = responsesToChat(
      request({
        tools: [applyPatch],
        input: [{ role: 'user', content: 'patch it' }, ...answer.output, { type: 'custom_tool_call_output', call_id: 'call_p', output: 'Done!' }],
      }),
    );
    expect(next.messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_p', type: 'function', function: { name: 'apply_patch', arguments: JSON.stringify({ input: patch }) } }],
      },
      { role: 'tool', tool_call_id: 'call_p', content: 'Done!' },
    ]);
  });

  it('streamed: the input arrives as text deltas, escapes decoded even when cut in the middle', async () => {
    const args = JSON.stringify({ input: patch });
    const pieces = [args.slice(0, 5), ...(args.slice(5).match(/.{1,3}/gs) ?? [])];
    const events = await streamEvents({ input: 'x', tools: [applyPatch], stream: true }, [
      chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_s', type: 'function', function: { name: 'apply_patch', arguments: '' } }] }),
      ...pieces.map((piece) => chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] })),
      chunk({}, 'tool_calls'),
    ]);
    expect(events.some((e) => e.type === 'response.function_call_arguments.delta')).toBe(false);
    const deltas = events.filter((e) => e.type === 'response.custom_tool_call_input.delta');
    expect(deltas.length).toBeGreaterThan(5);
    expect(deltas.map((e) => (e as { delta: string }).delta).join('')).toBe(patch);
    expect(events.find((e) => e.type === 'response.custom_tool_call_input.done')).toMatchObject({ input: patch });
    expect(accumulate(events).output).toEqual([expect.objectContaining({ type: 'custom_tool_call', call_id: 'call_s', name: 'apply_patch', input: patch })]);
  });
});

describe('hosted web search', () => {
  const search = { type: 'web_search', search_context_size: 'low', user_location: { type: 'approximate', city: 'Lyon', country: 'FR' } };

  it("the web_search tool (and its variants) is the pivot's web_search_options; earlier searches are left out", () => {
    for (const type of ['web_search', 'web_search_preview', 'web_search_preview_2025_03_11', 'web_search_2025_08_26']) {
      expect(responsesToChat(request({ input: 'x', tools: [{ ...search, type }] })).web_search_options).toEqual({
        search_context_size: 'low',
        user_location: { type: 'approximate', approximate: { city: 'Lyon', country: 'FR' } },
      });
    }
    const pivot = responsesToChat(
      request({
        input: [
          { role: 'user', content: 'news?' },
          { type: 'web_search_call', id: 'ws_1', status: 'completed', action: { type: 'search', query: 'news' } },
          { role: 'assistant', content: [{ type: 'output_text', text: 'Here.' }] },
        ],
        tools: [{ type: 'web_search', external_web_access: false }],
        tool_choice: { type: 'web_search' },
      }),
    );
    expect(pivot.messages).toEqual([
      { role: 'user', content: 'news?' },
      { role: 'assistant', content: 'Here.' },
    ]);
    expect(pivot.tools).toBeUndefined();
  });

  it('Anthropic: the server tool goes; its searches and citations come back as web_search_call items and url_citation annotations', async () => {
    const ctx = { model: 'claude-sonnet-5' };
    const call = await anthropic.chat.request(responsesToChat(request({ input: 'search the news', tools: [search] })), ctx);
    expect(call.body.tools).toEqual([{ type: 'web_search_20250305', name: 'web_search', user_location: { type: 'approximate', city: 'Lyon', country: 'FR' } }]);
    const message = {
      id: 'msg_1',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-5',
      content: [
        { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'news today' } },
        {
          type: 'web_search_tool_result',
          tool_use_id: 'srvtoolu_1',
          content: [{ type: 'web_search_result', url: 'https://example.com/a', title: 'A', encrypted_content: 'e' }],
        },
        { type: 'text', text: 'Intro. ' },
        {
          type: 'text',
          text: 'Cited fact.',
          citations: [{ type: 'web_search_result_location', url: 'https://example.com/a', title: 'A', cited_text: 'x', encrypted_index: 'i' }],
        },
      ],
      stop_reason: 'end_turn',
      usage: { input_tokens: 10, output_tokens: 5 },
    };
    const answer = chatToResponse(anthropic.chat.response(message, ctx), responseMeta(request({ input: 'search the news', tools: [search] }), 'm'));
    expect(answer.output).toEqual([
      {
        id: expect.stringMatching(/^ws_/),
        type: 'web_search_call',
        status: 'completed',
        action: { type: 'search', query: 'news today', queries: ['news today'], sources: [{ type: 'url', url: 'https://example.com/a' }] },
      },
      expect.objectContaining({
        type: 'message',
        content: [
          {
            type: 'output_text',
            text: 'Intro. Cited fact.',
            logprobs: [],
            annotations: [{ type: 'url_citation', start_index: 7, end_index: 18, url: 'https://example.com/a', title: 'A' }],
          },
        ],
      }),
    ]);
  });

  it('Anthropic streamed: the same items through the official events', async () => {
    const event = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    const sse = [
      event('message_start', {
        message: { id: 'msg_2', type: 'message', role: 'assistant', model: 'claude-sonnet-5', content: [], usage: { input_tokens: 9, output_tokens: 1 } },
      }),
      event('content_block_start', { index: 0, content_block: { type: 'server_tool_use', id: 'srvtoolu_2', name: 'web_search', input: {} } }),
      event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: '{"query": "we' } }),
      event('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: 'ather"}' } }),
      event('content_block_stop', { index: 0 }),
      event('content_block_start', {
        index: 1,
        content_block: {
          type: 'web_search_tool_result',
          tool_use_id: 'srvtoolu_2',
          content: [{ type: 'web_search_result', url: 'https://example.com/w', title: 'W' }],
        },
      }),
      event('content_block_stop', { index: 1 }),
      event('content_block_start', { index: 2, content_block: { type: 'text', text: '', citations: [] } }),
      event('content_block_delta', {
        index: 2,
        delta: { type: 'citations_delta', citation: { type: 'web_search_result_location', url: 'https://example.com/w', title: 'W' } },
      }),
      event('content_block_delta', { index: 2, delta: { type: 'text_delta', text: 'Sunny.' } }),
      event('content_block_stop', { index: 2 }),
      event('message_delta', { delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 4 } }),
      event('message_stop', {}),
    ].join('');
    const pivot = await decodeFixture(sse, anthropic.chat.stream({ model: 'claude-sonnet-5' }));
    const events = await streamEvents({ input: 'weather?', tools: [search], stream: true }, pivot);
    const types = events.map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'response.web_search_call.in_progress',
        'response.web_search_call.searching',
        'response.web_search_call.completed',
        'response.output_text.annotation.added',
      ]),
    );
    const final = accumulate(events);
    expect(final.output[0]).toMatchObject({ type: 'web_search_call', status: 'completed', action: { type: 'search', query: 'weather' } });
    expect(final.output[1]).toMatchObject({
      type: 'message',
      content: [{ type: 'output_text', text: 'Sunny.', annotations: [{ type: 'url_citation', start_index: 0, end_index: 6, url: 'https://example.com/w' }] }],
    });
    expect((events.at(-1) as { response: SdkResponse }).response.output).toEqual(final.output);
  });

  it('Gemini: Google Search grounding goes (beside functions on Gemini 3); its queries and supports come back, byte offsets as characters', async () => {
    const withFunction = responsesToChat(request({ input: 'x', tools: [search, { type: 'function', name: 'f', parameters: { type: 'object' } }] }));
    const call = await gemini.chat.request(withFunction, { model: 'gemini-3-pro-preview' });
    expect(call.body.tools).toEqual([{ functionDeclarations: [{ name: 'f', parametersJsonSchema: { type: 'object' } }] }, { googleSearch: {} }]);
    expect(call.body.toolConfig).toEqual({ includeServerSideToolInvocations: true });
    expect(gemini.chat.webSearch!(withFunction, { model: 'gemini-3-pro-preview' })).toBe(true);
    expect(gemini.chat.webSearch!(withFunction, { model: 'gemini-2.5-flash' })).toBe(false);
    const alone = responsesToChat(request({ input: 'x', tools: [search] }));
    expect(gemini.chat.webSearch!(alone, { model: 'gemini-2.5-flash' })).toBe(true);
    expect((await gemini.chat.request(alone, { model: 'gemini-2.5-flash' })).body).toMatchObject({ tools: [{ googleSearch: {} }] });

    const text = 'Café ouvert. Il pleut.';
    const bytes = (s: string) => new TextEncoder().encode(s).length;
    const answer = {
      candidates: [
        {
          content: { role: 'model', parts: [{ text }] },
          finishReason: 'STOP',
          groundingMetadata: {
            webSearchQueries: ['café lyon'],
            groundingChunks: [{ web: { uri: 'https://example.com/cafe', title: 'example.com' } }],
            groundingSupports: [{ segment: { startIndex: bytes('Café ouvert. '), endIndex: bytes(text), text: 'Il pleut.' }, groundingChunkIndices: [0] }],
          },
        },
      ],
      usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 4 },
    };
    const response = chatToResponse(gemini.chat.response(answer, { model: 'gemini-2.5-flash' }), responseMeta(request({ input: 'x', tools: [search] }), 'm'));
    expect(response.output[0]).toMatchObject({
      type: 'web_search_call',
      action: { query: 'café lyon', sources: [{ type: 'url', url: 'https://example.com/cafe' }] },
    });
    expect(response.output[1]).toMatchObject({
      content: [{ text, annotations: [{ type: 'url_citation', start_index: 13, end_index: 22, url: 'https://example.com/cafe', title: 'example.com' }] }],
    });
    expect(text.slice(13, 22)).toBe('Il pleut.');
  });
});

describe('reasoning items sent back', () => {
  it("Anthropic's signed thinking rides in encrypted_content and reaches Anthropic again with its signature", async () => {
    const ctx = { model: 'claude-sonnet-5', maxOutputTokens: 16000 };
    const weather = { type: 'function', name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } };
    const body = { input: 'weather in Paris?', tools: [weather], reasoning: { effort: 'low' } };
    const message = {
      id: 'msg_t',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-5',
      content: [
        { type: 'thinking', thinking: 'Call the tool.', signature: 'sig-abc' },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { location: 'Paris' } },
      ],
      stop_reason: 'tool_use',
      usage: { input_tokens: 10, output_tokens: 5 },
    };
    const answer = chatToResponse(anthropic.chat.response(message, ctx), responseMeta(request(body), 'm'));
    expect(answer.output[0]).toMatchObject({
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'Call the tool.' }],
      encrypted_content: expect.any(String),
    });
    const next = responsesToChat(
      request({
        ...body,
        input: [{ role: 'user', content: 'weather in Paris?' }, ...answer.output, { type: 'function_call_output', call_id: 'toolu_1', output: '18°C' }],
      }),
    );
    const upstream = (await anthropic.chat.request(next, ctx)).body as { thinking?: unknown; messages: { role: string; content: unknown[] }[] };
    expect(upstream.thinking).toMatchObject({ type: 'enabled' });
    expect(upstream.messages[1]!.content[0]).toEqual({ type: 'thinking', thinking: 'Call the tool.', signature: 'sig-abc' });
  });

  it("other reasoning items (OpenAI's encrypted content, summaries only, even malformed ones) are dropped, never refused", () => {
    const pivot = responsesToChat(
      request({
        input: [
          { role: 'user', content: 'hi' },
          { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'gAAAAABopaque' },
          { type: 'reasoning', id: 'rs_2', summary: 'not a list', content: 7 },
          { type: 'reasoning', id: 'rs_3', summary: [{ type: 'summary_text', text: 'x' }], encrypted_content: 'switchyard.thinking.v1:{broken' },
          { role: 'assistant', content: [{ type: 'output_text', text: 'hello' }] },
        ],
      }),
    );
    expect(pivot.messages).toEqual([
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
    ]);
  });
});
