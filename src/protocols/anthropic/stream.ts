import { jsonObjectOf, type PivotEvent, reasoningOf, type ThinkingBlock, type Usage } from '../pivot/chat';
import { ChunkWriter } from '../pivot/chunks';
import { truncated, unreadable } from '../failures';
import { randomId } from '../pivot/ids';
import { type EventSourceMessage, sseFrame } from '../pivot/sse';
import type { TranslateContext } from '../adapter';
import { anthropicUsage, anthropicMessageId, finishReasonOf, pivotUsage, signedBlocks, stopReasonOf } from './response';
import { anthropicToolId } from './request';
import { type AnthropicUsage, StreamEvent } from './schema';
import { anthropicErrors, anthropicErrorStatus } from './errors';
import { queryOf, searchOf, urlCitations } from './web-search';

// Streams both ways. Anthropic: message_start, then per block content_block_start / _delta / _stop,
// then message_delta (stop reason, usage) and message_stop; `ping` anywhere; `error` ends it.

const KNOWN_EVENTS = new Set<string>(StreamEvent.options.map((option) => option.shape.type.value));

/** An Anthropic provider's events as pivot events. */
export function decodeMessagesStream(ctx: TranslateContext): TransformStream<EventSourceMessage, PivotEvent> {
  const out = new ChunkWriter(ctx.model);
  const toolByBlock = new Map<number, number>();
  // Thinking blocks by stream index while they stream, then every finished one, in order.
  const thinkingByBlock = new Map<number, ThinkingBlock>();
  const signed: ThinkingBlock[] = [];
  // Web searches' queries by call id as their input streams; text blocks' start in the answer and citations.
  const searchInputs = new Map<number, { id: string; json: string; input: unknown }>();
  const queries = new Map<string, string>();
  const textBlocks = new Map<number, { start: number; citations: unknown[] }>();
  let textLength = 0;
  let usage: AnthropicUsage = {};
  let finish = 'stop';
  let done = false;
  return new TransformStream({
    transform(message, controller) {
      if (done) return;
      let data: unknown;
      try {
        data = JSON.parse(message.data);
      } catch {
        data = undefined;
      }
      const parsed = StreamEvent.safeParse(data);
      if (!parsed.success) {
        // Event types this gateway does not know are skipped; anything else that does not parse ends the stream.
        const type = (data as { type?: unknown } | undefined)?.type;
        if (typeof type === 'string' && !KNOWN_EVENTS.has(type)) return;
        done = true;
        controller.enqueue({ failure: unreadable('anthropic') });
        return;
      }
      const event = parsed.data;
      switch (event.type) {
        case 'message_start':
          out.id = event.message.id ?? out.id;
          out.model = event.message.model ?? out.model;
          usage = { ...event.message.usage };
          controller.enqueue({ chunk: out.delta({ role: 'assistant', content: '' }) });
          break;
        case 'content_block_start': {
          const block = event.content_block;
          if (block.type === 'text') textBlocks.set(event.index, { start: textLength, citations: [] });
          if (block.type === 'text' && block.text) {
            textLength += block.text.length;
            controller.enqueue({ chunk: out.delta({ content: block.text }) });
          }
          if (block.type === 'server_tool_use' && block.name === 'web_search')
            searchInputs.set(event.index, { id: block.id ?? '', json: '', input: block.input });
          if (block.type === 'web_search_tool_result') {
            controller.enqueue({ chunk: out.delta({ web_search_calls: [searchOf(block, queries.get(block.tool_use_id ?? '') ?? '')] }) });
          }
          const [thinking] = signedBlocks([block]);
          if (thinking) thinkingByBlock.set(event.index, thinking);
          if (block.type === 'thinking' && block.thinking) controller.enqueue({ chunk: out.delta({ reasoning_content: block.thinking }) });
          if (block.type === 'tool_use') {
            const index = toolByBlock.size;
            toolByBlock.set(event.index, index);
            const call = { index, id: block.id ?? randomId('toolu_'), type: 'function', function: { name: block.name ?? '', arguments: '' } };
            controller.enqueue({ chunk: out.delta({ tool_calls: [call] }) });
          }
          break;
        }
        case 'content_block_delta': {
          const { delta } = event;
          if (delta.type === 'text_delta' && delta.text) {
            textLength += delta.text.length;
            controller.enqueue({ chunk: out.delta({ content: delta.text }) });
          }
          if (delta.type === 'citations_delta') textBlocks.get(event.index)?.citations.push(delta.citation);
          const search = searchInputs.get(event.index);
          if (delta.type === 'input_json_delta' && delta.partial_json && search) search.json += delta.partial_json;
          const index = toolByBlock.get(event.index);
          if (delta.type === 'input_json_delta' && delta.partial_json && index !== undefined) {
            controller.enqueue({ chunk: out.delta({ tool_calls: [{ index, function: { arguments: delta.partial_json } }] }) });
          }
          const thinking = thinkingByBlock.get(event.index);
          if (delta.type === 'thinking_delta' && delta.thinking && thinking) {
            thinking.thinking = (thinking.thinking ?? '') + delta.thinking;
            controller.enqueue({ chunk: out.delta({ reasoning_content: delta.thinking }) });
          }
          if (delta.type === 'signature_delta' && delta.signature && thinking) thinking.signature = (thinking.signature ?? '') + delta.signature;
          break;
        }
        case 'content_block_stop': {
          const search = searchInputs.get(event.index);
          if (search) queries.set(search.id, queryOf(jsonObjectOf(search.json) ?? search.input));
          // A text block's citations cover all of its text: told once the block is whole.
          const text = textBlocks.get(event.index);
          const citations = text ? urlCitations(text.citations, text.start, textLength) : [];
          if (citations.length) controller.enqueue({ chunk: out.delta({ annotations: citations }) });
          const thinking = thinkingByBlock.get(event.index);
          if (thinking) {
            thinkingByBlock.delete(event.index);
            signed.push(thinking);
            controller.enqueue({ chunk: out.delta({ thinking_blocks: [...signed] }) });
          }
          break;
        }
        case 'message_delta':
          finish = finishReasonOf(event.delta.stop_reason);
          // message_delta counters are whole-message totals: overwrite the ones it carries.
          for (const [name, value] of Object.entries(event.usage ?? {})) if (value !== null && value !== undefined) usage[name] = value;
          break;
        case 'message_stop':
          done = true;
          controller.enqueue({ chunk: out.finish(finish) });
          controller.enqueue({ chunk: out.usage(pivotUsage(usage)) });
          break;
        case 'error':
          done = true;
          controller.enqueue({ failure: { status: anthropicErrorStatus(event.error.type), message: event.error.message } });
          break;
      }
    },
    flush(controller) {
      if (!done) controller.enqueue({ failure: truncated });
    },
  });
}

/** Pivot events as an Anthropic client's SSE text, naming `model` (the model as the client asked for it). */
export function encodeMessagesStream(model: string): TransformStream<PivotEvent, string> {
  let started = false;
  let failed = false;
  let blockIndex = -1;
  let openBlock: 'text' | 'thinking' | 'tool' | undefined;
  const blockByTool = new Map<number, number>();
  let stopReason = 'end_turn';
  let usage: Usage | undefined;

  const frame = (type: string, data: Record<string, unknown>) => sseFrame({ type, ...data }, type);
  return new TransformStream({
    transform(event, controller) {
      if (failed) return;
      const emit = (type: string, data: Record<string, unknown> = {}) => controller.enqueue(frame(type, data));
      const closeBlock = () => {
        if (openBlock) emit('content_block_stop', { index: blockIndex });
        openBlock = undefined;
      };
      const openNew = (kind: 'text' | 'thinking' | 'tool', block: Record<string, unknown>) => {
        closeBlock();
        blockIndex += 1;
        openBlock = kind;
        emit('content_block_start', { index: blockIndex, content_block: block });
      };

      if ('failure' in event) {
        failed = true;
        const { status, message } = event.failure;
        controller.enqueue(anthropicErrors.streamFrame(status, message));
        return;
      }
      const { chunk } = event;
      if (!started) {
        started = true;
        emit('message_start', {
          message: {
            id: anthropicMessageId(chunk.id),
            type: 'message',
            role: 'assistant',
            model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: 0, output_tokens: 0 },
          },
        });
      }
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) return;
      const { content, tool_calls: calls } = choice.delta;
      // Reasoning of another provider: a thinking block Anthropic never signed (see thinkingFromPivot).
      const reasoning = reasoningOf(choice.delta);
      if (reasoning) {
        if (openBlock !== 'thinking') openNew('thinking', { type: 'thinking', thinking: '', signature: '' });
        emit('content_block_delta', { index: blockIndex, delta: { type: 'thinking_delta', thinking: reasoning } });
      }
      if (content) {
        if (openBlock !== 'text') openNew('text', { type: 'text', text: '' });
        emit('content_block_delta', { index: blockIndex, delta: { type: 'text_delta', text: content } });
      }
      for (const call of calls ?? []) {
        if (call.id !== undefined || !blockByTool.has(call.index)) {
          openNew('tool', { type: 'tool_use', id: anthropicToolId(call.id ?? randomId('toolu_')), name: call.function?.name ?? '', input: {} });
          blockByTool.set(call.index, blockIndex);
        }
        const args = call.function?.arguments;
        if (args) emit('content_block_delta', { index: blockByTool.get(call.index), delta: { type: 'input_json_delta', partial_json: args } });
      }
      if (choice.finish_reason) stopReason = stopReasonOf(choice.finish_reason);
    },
    flush(controller) {
      if (failed) return;
      if (!started) {
        controller.enqueue(anthropicErrors.streamFrame(502, 'the provider ended the stream without an answer'));
        return;
      }
      if (openBlock) controller.enqueue(frame('content_block_stop', { index: blockIndex }));
      const { input_tokens, output_tokens, cache_read_input_tokens } = anthropicUsage(usage);
      controller.enqueue(
        frame('message_delta', {
          delta: { stop_reason: stopReason, stop_sequence: null },
          usage: { input_tokens, output_tokens, cache_read_input_tokens },
        }),
      );
      controller.enqueue(frame('message_stop', {}));
    },
  });
}
