import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../errors';
import { openai, openaiClient } from './adapter';
import { ChatRequest } from '../pivot/chat';
import completionText from '../../../test/fixtures/protocols/openai/completion-text.json?raw';
import requestTools from '../../../test/fixtures/protocols/openai/request-tools.json?raw';
import streamText from '../../../test/fixtures/protocols/openai/stream-text.sse?raw';
import streamToolCalls from '../../../test/fixtures/protocols/openai/stream-tool-calls.sse?raw';
import { chunks, decodeFixture, encodeEvents, failures, parseSse, textOf } from '../../../test/worker/helpers/streams';

const ctx = { model: 'gpt-4o-mini' };

describe('OpenAI as the upstream protocol (the pivot itself)', () => {
  it('sends the pivot request as it is, with the upstream model id', async () => {
    const req = ChatRequest.parse({ ...JSON.parse(requestTools), model: 'openai/gpt-4o-mini' });
    const call = await openai.chat.request(req, ctx);
    expect(call).toEqual({ operation: 'chat/completions', search: '', body: { ...JSON.parse(requestTools), model: 'gpt-4o-mini' } });
  });

  it('reads a completion, and refuses what is not one with a 502', () => {
    const completion = openai.chat.response(JSON.parse(completionText), ctx);
    expect(completion.choices[0]!.message.content).toBe('Hello! How can I help you today?');
    expect(completion.usage?.prompt_tokens).toBe(19);
    expect(() => openai.chat.response({ choices: 'nope' }, ctx)).toThrow(GatewayError);
  });

  it('decodes a text stream with its usage chunk', async () => {
    const events = await decodeFixture(streamText, openai.chat.stream(ctx));
    expect(failures(events)).toEqual([]);
    expect(textOf(events)).toBe('Hello there!');
    expect(chunks(events).at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 3 } });
  });

  it('decodes parallel tool-call argument deltas', async () => {
    const events = await decodeFixture(streamToolCalls, openai.chat.stream(ctx));
    const deltas = chunks(events).flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    const args = [0, 1].map((i) =>
      deltas
        .filter((d) => d.index === i)
        .map((d) => d.function?.arguments ?? '')
        .join(''),
    );
    expect(args).toEqual(['{"location": "Paris"}', '{"location": "Lyon"}']);
    expect(chunks(events).at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
  });

  it('reports an error event and a stream cut before its finish chunk', async () => {
    const error = 'data: {"error":{"message":"Rate limit reached","type":"rate_limit_exceeded","code":429}}\n\n';
    expect(failures(await decodeFixture(error, openai.chat.stream(ctx)))).toEqual([{ status: 429, message: 'Rate limit reached' }]);
    const cut = streamText.split('\n\n').slice(0, 3).join('\n\n') + '\n\n';
    const events = await decodeFixture(cut, openai.chat.stream(ctx));
    expect(textOf(events)).toBe('Hello there');
    expect(failures(events)).toEqual([{ status: 502, message: expect.stringContaining('ended before the answer was complete') }]);
  });
});

describe('OpenAI as the client dialect', () => {
  const decoded = () => decodeFixture(streamText, openai.chat.stream(ctx));

  it('writes chunks then [DONE], without the usage chunk unless asked for', async () => {
    const req = ChatRequest.parse({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const sse = parseSse(await encodeEvents(await decoded(), openaiClient.streamFromPivot(req)));
    expect(sse.at(-1)!.data).toBe('[DONE]');
    const objects = sse.slice(0, -1).map((e) => e.data);
    expect(objects.every((o) => o.object === 'chat.completion.chunk' && o.choices.length === 1 && !('usage' in o))).toBe(true);
    expect(objects.map((o) => o.choices[0].delta.content ?? '').join('')).toBe('Hello there!');
  });

  it('with stream_options.include_usage: usage null on every chunk and a final usage chunk with no choices', async () => {
    const req = ChatRequest.parse({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    const sse = parseSse(await encodeEvents(await decoded(), openaiClient.streamFromPivot(req)));
    const objects = sse.slice(0, -1).map((e) => e.data);
    expect(objects.slice(0, -1).every((o) => o.usage === null)).toBe(true);
    expect(objects.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } });
    expect(objects.at(-2).choices[0].finish_reason).toBe('stop');
  });

  it('ends a failed stream with an OpenAI error event and no [DONE]', async () => {
    const req = ChatRequest.parse({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    const events = [...(await decoded()).slice(0, 2), { failure: { status: 529, message: 'Overloaded' } }];
    const sse = parseSse(await encodeEvents(events, openaiClient.streamFromPivot(req)));
    expect(sse.at(-1)!.data).toEqual({ error: { message: 'Overloaded', type: 'api_error', code: 'internal_error' } });
    expect(sse.some((e) => e.data === '[DONE]')).toBe(false);
  });
});
