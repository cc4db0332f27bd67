import { describe, expect, it } from 'vitest';
import { camelKeys, geminiOnlyToolsOf, generateContentToPivot } from '../../../src/protocols/gemini/client-request';
import { chatToGenerateContentResponse } from '../../../src/protocols/gemini/client-response';
import { encodeGenerateContentStream } from '../../../src/protocols/gemini/client-stream';
import { GenerateContentRequest } from '../../../src/protocols/gemini/schema';
import { thinkingOfSignature, thinkingSignature } from '../../../src/protocols/gemini/thinking-signature';
import { ChunkWriter } from '../../../src/protocols/pivot/chunks';
import type { PivotEvent } from '../../../src/protocols/pivot/chat';
import { encodeEvents } from '../helpers/streams';

// The Gemini-protocol door's translation, both directions: a Gemini client's request → the pivot,
// the pivot's answers and streams → what a Gemini client reads.

const request = (body: unknown) => GenerateContentRequest.parse(camelKeys(body));
const pivotOf = (body: unknown, stream = false) => generateContentToPivot(request(body), 'groq/x', stream);
const user = (text: string) => ({ role: 'user', parts: [{ text }] });

describe('a Gemini request → the pivot', () => {
  it("reads snake_case names as Google does, never renaming the client's own JSON (arguments, results, schemas)", () => {
    const pivot = pivotOf({
      system_instruction: { parts: [{ text: 'Be terse.' }] },
      contents: [
        user('hi'),
        { role: 'model', parts: [{ function_call: { name: 'f', args: { snake_key: 1 } } }] },
        { role: 'user', parts: [{ function_response: { name: 'f', response: { snake_key: 2 } } }] },
      ],
      tools: [{ function_declarations: [{ name: 'f', parameters_json_schema: { type: 'object', properties: { snake_key: { type: 'string' } } } }] }],
      generation_config: { max_output_tokens: 50, stop_sequences: ['x'] },
    });
    expect(pivot).toMatchObject({
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'hi' },
        { role: 'assistant', tool_calls: [{ id: 'call_0', function: { name: 'f', arguments: '{"snake_key":1}' } }] },
        { role: 'tool', tool_call_id: 'call_0', content: '{"snake_key":2}' },
      ],
      tools: [{ function: { name: 'f', parameters: { type: 'object', properties: { snake_key: { type: 'string' } } } } }],
      max_tokens: 50,
      stop: ['x'],
    });
  });

  it('Gemini Schema becomes JSON Schema: lowercase types, nullable, nested items and properties', () => {
    const pivot = pivotOf({
      contents: [user('hi')],
      tools: [
        {
          functionDeclarations: [
            {
              name: 'f',
              parameters: {
                type: 'OBJECT',
                propertyOrdering: ['tags'],
                properties: { tags: { type: 'ARRAY', items: { type: 'STRING', nullable: true } }, n: { type: 'INTEGER', format: 'int32' } },
              },
            },
          ],
        },
      ],
    });
    expect(pivot.tools![0]!.function.parameters).toEqual({
      type: 'object',
      properties: { tags: { type: 'array', items: { type: ['string', 'null'] } }, n: { type: 'integer', format: 'int32' } },
    });
  });

  it('function calling modes, thinking budgets and levels, JSON output', () => {
    const tools = [{ functionDeclarations: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] }];
    const any = (names?: string[]) =>
      pivotOf({ contents: [user('x')], tools, toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: names } } });
    expect(any(['b'])).toMatchObject({ tool_choice: { type: 'function', function: { name: 'b' } } });
    expect(any(['a', 'c'])).toMatchObject({ tool_choice: 'required' });
    expect(any(['a', 'c']).tools!.map((t) => t.function.name)).toEqual(['a', 'c']);
    expect(pivotOf({ contents: [user('x')], tools, toolConfig: { functionCallingConfig: { mode: 'NONE' } } }).tool_choice).toBe('none');

    const effort = (thinkingConfig: unknown) => pivotOf({ contents: [user('x')], generationConfig: { thinkingConfig } }).reasoning_effort;
    expect(effort({ thinkingBudget: 0 })).toBe('none');
    expect(effort({ thinkingBudget: 1024 })).toBe('minimal');
    expect(effort({ thinkingBudget: 30000 })).toBe('high');
    expect(effort({ thinkingBudget: -1 })).toBe('medium');
    expect(effort({ thinkingLevel: 'LOW' })).toBe('low');
    expect(effort({ includeThoughts: true })).toBe('medium');
    expect(effort({ includeThoughts: false })).toBeUndefined();

    const schema = { type: 'object', properties: { city: { type: 'string' } } };
    expect(pivotOf({ contents: [user('x')], generationConfig: { responseMimeType: 'application/json', responseJsonSchema: schema } }).response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'response', schema },
    });
    expect(pivotOf({ contents: [user('x')], generationConfig: { responseMimeType: 'application/json' } }).response_format).toEqual({ type: 'json_object' });
  });

  it('pairs results with calls by id, else by name in order; a stream asks for its usage', () => {
    const pivot = pivotOf(
      {
        contents: [
          user('weather?'),
          {
            role: 'model',
            parts: [{ functionCall: { name: 'w', args: { c: 'Paris' } } }, { functionCall: { id: 'toolu_b', name: 'w', args: { c: 'Rome' } } }],
          },
          {
            role: 'user',
            parts: [
              { functionResponse: { id: 'toolu_b', name: 'w', response: { output: 'warm' } } },
              { functionResponse: { id: 'w-123-cli', name: 'w', response: { output: 'mild' } } },
              { text: 'and tomorrow?' },
            ],
          },
        ],
      },
      true,
    );
    expect(pivot.messages.slice(2)).toEqual([
      { role: 'tool', tool_call_id: 'toolu_b', content: 'warm' },
      { role: 'tool', tool_call_id: 'call_0', content: 'mild' },
      { role: 'user', content: 'and tomorrow?' },
    ]);
    expect(pivot).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it("Google Search is the pivot's web search; the tools only Gemini runs are named; an unknown role is refused", () => {
    const body = { contents: [user('x')], tools: [{ googleSearch: {} }, { codeExecution: {}, functionDeclarations: [] }] };
    expect(pivotOf(body).web_search_options).toEqual({});
    expect(pivotOf({ contents: [user('x')] }).web_search_options).toBeUndefined();
    expect(geminiOnlyToolsOf(request(body))).toEqual(['codeExecution']);
    expect(() => pivotOf({ contents: [{ role: 'system', parts: [{ text: 'x' }] }] })).toThrow(expect.objectContaining({ status: 400 }));
  });
});

describe('Anthropic signed thinking in a thoughtSignature', () => {
  it('round-trips, and a real Gemini signature carries none', () => {
    const blocks = [
      { type: 'thinking' as const, thinking: 'Let me think.', signature: 'EqQBsig' },
      { type: 'redacted_thinking' as const, data: 'opaque' },
    ];
    expect(thinkingOfSignature(thinkingSignature(blocks))).toEqual(blocks);
    expect(thinkingOfSignature('CiQB0e2Kb0Kx1sQh3yGW+8Y8LqXJt5g2i8b9mQ==')).toEqual([]);
    expect(thinkingOfSignature('not base64 at all!')).toEqual([]);
  });
});

describe('the pivot → a Gemini answer', () => {
  const completion = {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'x',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: 'Checking.',
          reasoning_content: 'thinking…',
          thinking_blocks: [{ type: 'thinking' as const, thinking: 'thinking…', signature: 'sig' }],
          tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'w', arguments: '{"c":"Paris"}' } }],
        },
        finish_reason: 'tool_calls',
      },
    ],
    usage: { prompt_tokens: 10, completion_tokens: 7, total_tokens: 17, completion_tokens_details: { reasoning_tokens: 3 } },
  };

  it('thoughts only when asked for; the signed thinking on the first function call; thoughts counted apart', () => {
    const answer = chatToGenerateContentResponse(completion, 'anthropic/claude', true) as any;
    const parts = answer.candidates[0].content.parts;
    expect(parts[0]).toEqual({ text: 'thinking…', thought: true });
    expect(parts[1]).toEqual({ text: 'Checking.' });
    expect(parts[2].functionCall).toEqual({ id: 'toolu_1', name: 'w', args: { c: 'Paris' } });
    expect(thinkingOfSignature(parts[2].thoughtSignature)).toEqual(completion.choices[0]!.message.thinking_blocks);
    expect(answer.usageMetadata).toEqual({ promptTokenCount: 10, candidatesTokenCount: 4, thoughtsTokenCount: 3, totalTokenCount: 17 });
    expect(answer).toMatchObject({ modelVersion: 'anthropic/claude', responseId: 'chatcmpl-1', candidates: [{ finishReason: 'STOP' }] });
    const hidden = chatToGenerateContentResponse(completion, 'anthropic/claude', false) as any;
    expect(hidden.candidates[0].content.parts.some((p: { thought?: boolean }) => p.thought)).toBe(false);
  });
});

describe('pivot events → a Gemini stream', () => {
  const out = new ChunkWriter('x');
  const events: PivotEvent[] = [
    { chunk: out.delta({ role: 'assistant', content: '' }) },
    { chunk: out.delta({ content: 'Hel' }) },
    { chunk: out.delta({ content: 'lo' }) },
    { chunk: out.finish('length') },
    { chunk: out.usage({ prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }) },
  ];

  it('alt=sse: CRLF frames; the finish and usage ride on the last text', async () => {
    const text = await encodeEvents(events, encodeGenerateContentStream('groq/x', false, 'sse'));
    const frames = text.split('\r\n\r\n').filter(Boolean);
    expect(frames).toHaveLength(2);
    const last = JSON.parse(frames[1]!.slice('data: '.length));
    expect(last).toEqual({
      candidates: [{ content: { role: 'model', parts: [{ text: 'lo' }] }, finishReason: 'MAX_TOKENS', index: 0 }],
      usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, totalTokenCount: 5 },
      modelVersion: 'groq/x',
      responseId: out.id,
    });
  });

  it('JSON array: a valid array, with an error as its last element when the provider fails mid-answer', async () => {
    const whole = await encodeEvents(events, encodeGenerateContentStream('groq/x', false, 'json-array'));
    expect((JSON.parse(whole) as unknown[]).length).toBe(2);
    const failed = await encodeEvents(
      [...events.slice(0, 2), { failure: { status: 502, message: 'broke off' } }],
      encodeGenerateContentStream('groq/x', false, 'json-array'),
    );
    expect((JSON.parse(failed) as unknown[]).at(-1)).toEqual({ error: { code: 502, message: 'broke off', status: 'UNAVAILABLE' } });
    const empty = await encodeEvents([], encodeGenerateContentStream('groq/x', false, 'sse'));
    expect(empty).toBe(
      `data: ${JSON.stringify({ error: { code: 502, message: 'the provider ended the stream without an answer', status: 'UNAVAILABLE' } })}\r\n\r\n`,
    );
  });
});
