import type { PivotEvent, ToolCallDelta, Usage } from '../pivot/chat';
import { randomId } from '../pivot/ids';
import { sseFrame } from '../pivot/sse';
import {
  finalStatus,
  functionCallItem,
  messageItem,
  outputText,
  reasoningItem,
  reasoningOf,
  type ResponseBody,
  type ResponseMeta,
  responseSkeleton,
  responseUsage,
} from './response';
import type { Item } from './schema';

// Pivot events as the Responses API's stream, event by event as they arrive: response.created and
// response.in_progress at once; per output item output_item.added, its content (a message's
// content_part.added / output_text.delta / output_text.done / content_part.done, a function call's
// function_call_arguments.delta / .done, reasoning's summary part and text events) and
// output_item.done; then response.completed (or .incomplete) with the usage. A failure ends the
// stream with response.failed. Every event carries its sequence_number.

type OpenItem =
  | { kind: 'message'; index: number; id: string; text: string }
  | { kind: 'reasoning'; index: number; id: string; text: string }
  | { kind: 'call'; index: number; id: string; callId: string; name: string; args: string };

export interface ResponsesStreamOptions {
  /** Called with the finished response before response.completed goes out (to store it first). */
  onDone?: (response: ResponseBody) => Promise<unknown> | void;
}

export function encodeResponsesStream(meta: ResponseMeta, options: ResponsesStreamOptions = {}): TransformStream<PivotEvent, string> {
  let out!: TransformStreamDefaultController<string>;
  let sequence = 0;
  let ended = false;
  let model = meta.model;
  const output: Item[] = [];
  /** The message or reasoning item being written, if any. */
  let open: Extract<OpenItem, { kind: 'message' | 'reasoning' }> | undefined;
  /** Function calls by pivot tool-call index: they stay open until the answer moves on. */
  const calls = new Map<number, Extract<OpenItem, { kind: 'call' }>>();
  let finish: string | null | undefined;
  let usage: Usage | undefined;

  const emit = (type: string, data: Record<string, unknown>) => out.enqueue(sseFrame({ type, ...data, sequence_number: sequence++ }, type));

  const closeOpen = () => {
    if (!open) return;
    const { index, id, text } = open;
    if (open.kind === 'message') {
      const part = outputText(text);
      emit('response.output_text.done', { item_id: id, output_index: index, content_index: 0, text, logprobs: [] });
      emit('response.content_part.done', { item_id: id, output_index: index, content_index: 0, part });
      output[index] = messageItem(id, 'completed', [part]);
    } else {
      const part = { type: 'summary_text', text };
      emit('response.reasoning_summary_text.done', { item_id: id, output_index: index, summary_index: 0, text });
      emit('response.reasoning_summary_part.done', { item_id: id, output_index: index, summary_index: 0, part });
      output[index] = reasoningItem(id, text);
    }
    emit('response.output_item.done', { output_index: index, item: output[index] });
    open = undefined;
  };

  const closeCalls = () => {
    for (const call of calls.values()) {
      const item = functionCallItem(call.id, 'completed', { call_id: call.callId, name: call.name, arguments: call.args });
      emit('response.function_call_arguments.done', { item_id: call.id, output_index: call.index, name: call.name, arguments: call.args });
      output[call.index] = item;
      emit('response.output_item.done', { output_index: call.index, item });
    }
    calls.clear();
  };

  /** The output so far, the items still being written marked incomplete: what a failed response carries. */
  const outputSoFar = (): Item[] => {
    const items = [...output];
    if (open?.kind === 'message') items[open.index] = messageItem(open.id, 'incomplete', [outputText(open.text)]);
    if (open?.kind === 'reasoning') items[open.index] = reasoningItem(open.id, open.text);
    for (const call of calls.values()) {
      items[call.index] = functionCallItem(call.id, 'incomplete', { call_id: call.callId, name: call.name, arguments: call.args });
    }
    return items;
  };

  /** The open item of a kind; opening one closes whatever else was open. */
  const openItem = (kind: 'message' | 'reasoning'): { index: number; id: string; text: string } => {
    if (open?.kind === kind) return open;
    closeOpen();
    closeCalls();
    const index = output.length;
    const id = randomId(kind === 'message' ? 'msg_' : 'rs_');
    const item = { kind, index, id, text: '' };
    open = item;
    output.push(kind === 'message' ? messageItem(id, 'in_progress', []) : reasoningItem(id, ''));
    emit('response.output_item.added', { output_index: index, item: output[index] });
    if (kind === 'message') emit('response.content_part.added', { item_id: id, output_index: index, content_index: 0, part: outputText('') });
    else emit('response.reasoning_summary_part.added', { item_id: id, output_index: index, summary_index: 0, part: { type: 'summary_text', text: '' } });
    return item;
  };

  const openCall = (delta: ToolCallDelta) => {
    closeOpen();
    const index = output.length;
    const call = { kind: 'call' as const, index, id: randomId('fc_'), callId: delta.id ?? randomId('call_'), name: delta.function?.name ?? '', args: '' };
    calls.set(delta.index, call);
    output.push(functionCallItem(call.id, 'in_progress', { call_id: call.callId, name: call.name, arguments: '' }));
    emit('response.output_item.added', { output_index: index, item: output[index] });
    return call;
  };

  return new TransformStream({
    start(controller) {
      out = controller;
      const response = responseSkeleton(meta, 'in_progress');
      emit('response.created', { response });
      emit('response.in_progress', { response });
    },
    transform(event) {
      if (ended) return;
      if ('failure' in event) {
        ended = true;
        const { status, message } = event.failure;
        const response = {
          ...responseSkeleton({ ...meta, model }, 'failed', outputSoFar()),
          error: { code: status === 429 ? 'rate_limit_exceeded' : 'server_error', message },
        };
        emit('response.failed', { response });
        return;
      }
      const { chunk } = event;
      if (chunk.model) model = chunk.model;
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) return;
      const reasoning = reasoningOf(choice.delta);
      if (reasoning) {
        const item = openItem('reasoning');
        item.text += reasoning;
        emit('response.reasoning_summary_text.delta', { item_id: item.id, output_index: item.index, summary_index: 0, delta: reasoning });
      }
      if (choice.delta.content) {
        const item = openItem('message');
        item.text += choice.delta.content;
        emit('response.output_text.delta', { item_id: item.id, output_index: item.index, content_index: 0, delta: choice.delta.content, logprobs: [] });
      }
      for (const delta of choice.delta.tool_calls ?? []) {
        const call = calls.get(delta.index) ?? openCall(delta);
        const args = delta.function?.arguments;
        if (args) {
          call.args += args;
          emit('response.function_call_arguments.delta', { item_id: call.id, output_index: call.index, delta: args });
        }
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    },
    async flush() {
      if (ended) return;
      closeOpen();
      closeCalls();
      const final = finalStatus(finish);
      const response = {
        ...responseSkeleton({ ...meta, model }, final.status, output),
        incomplete_details: final.incomplete_details,
        usage: responseUsage(usage),
      };
      await options.onDone?.(response);
      emit(final.status === 'completed' ? 'response.completed' : 'response.incomplete', { response });
    },
  });
}
