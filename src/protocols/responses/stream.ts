import type { PivotEvent, ThinkingBlock, ToolCallDelta, UrlCitation, Usage, WebSearchCall } from '../pivot/chat';
import { randomId } from '../pivot/ids';
import { sseFrame } from '../pivot/sse';
import {
  customInputOf,
  finalStatus,
  messageItem,
  outputText,
  reasoningItem,
  reasoningOf,
  type ResponseBody,
  type ResponseMeta,
  responseSkeleton,
  responseUsage,
  toolCallItem,
  toolCallItemPrefix,
  urlAnnotation,
  webSearchCallItem,
} from './response';
import type { Item } from './schema';
import { RequestTools } from './tools';

// Pivot events as the Responses API's stream, event by event as they arrive: response.created and
// response.in_progress at once; per output item output_item.added, its content (a message's
// content_part.added / output_text.delta / output_text.done / content_part.done, a function call's
// function_call_arguments.delta / .done, a custom tool call's custom_tool_call_input.delta / .done,
// reasoning's summary part and text events, a hosted search's web_search_call events) and
// output_item.done; then response.completed (or .incomplete) with the usage. A failure ends the
// stream with response.failed. Every event carries its sequence_number.

type OpenItem =
  | { kind: 'message'; index: number; id: string; text: string; citations: UrlCitation[] }
  | { kind: 'reasoning'; index: number; id: string; text: string; citations: UrlCitation[] }
  | { kind: 'call'; index: number; id: string; callId: string; name: string; args: string; input?: StreamedInput };

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' };

/** A custom tool's text as its `{"input": "…"}` arguments stream in: each piece decoded once it is whole. */
class StreamedInput {
  private raw = '';
  /** Where the string's next character is in `raw`; -1 until its opening quote has come. */
  private at = -1;
  private ended = false;
  sent = '';

  /** The arguments' next piece; returns the input text it completes. */
  feed(piece: string): string {
    this.raw += piece;
    if (this.at < 0) {
      const start = /^\s*\{\s*"input"\s*:\s*"/.exec(this.raw);
      if (!start) return '';
      this.at = start[0].length;
    }
    let text = '';
    while (!this.ended && this.at < this.raw.length) {
      const char = this.raw[this.at]!;
      if (char === '"') this.ended = true;
      else if (char !== '\\') {
        text += char;
        this.at += 1;
      } else {
        const escape = this.raw[this.at + 1];
        const hex = escape === 'u' ? this.raw.slice(this.at + 2, this.at + 6) : '';
        if (escape === undefined || (escape === 'u' && hex.length < 4)) break;
        text += escape === 'u' ? String.fromCharCode(parseInt(hex, 16)) : (ESCAPES[escape] ?? escape);
        this.at += escape === 'u' ? 6 : 2;
      }
    }
    this.sent += text;
    return text;
  }
}

export interface ResponsesStreamOptions {
  /** Called with the finished response before response.completed goes out (to store it first). */
  onDone?: (response: ResponseBody) => Promise<unknown> | void;
}

export function encodeResponsesStream(meta: ResponseMeta, options: ResponsesStreamOptions = {}): TransformStream<PivotEvent, string> {
  let out!: TransformStreamDefaultController<string>;
  const tools = new RequestTools(meta.request.tools);
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
  /** Anthropic's signed thinking so far (a snapshot), and how much of it reasoning items already carry. */
  let signed: ThinkingBlock[] = [];
  let signedCarried = 0;

  const emit = (type: string, data: Record<string, unknown>) => out.enqueue(sseFrame({ type, ...data, sequence_number: sequence++ }, type));

  const closeOpen = () => {
    if (!open) return;
    const { index, id, text } = open;
    if (open.kind === 'message') {
      const part = outputText(text, open.citations);
      emit('response.output_text.done', { item_id: id, output_index: index, content_index: 0, text, logprobs: [] });
      emit('response.content_part.done', { item_id: id, output_index: index, content_index: 0, part });
      output[index] = messageItem(id, 'completed', [part]);
    } else {
      const part = { type: 'summary_text', text };
      emit('response.reasoning_summary_text.done', { item_id: id, output_index: index, summary_index: 0, text });
      emit('response.reasoning_summary_part.done', { item_id: id, output_index: index, summary_index: 0, part });
      output[index] = reasoningItem(id, text, signed.slice(signedCarried));
      signedCarried = signed.length;
    }
    emit('response.output_item.done', { output_index: index, item: output[index] });
    open = undefined;
  };

  const closeCalls = () => {
    for (const call of calls.values()) {
      const item = toolCallItem(tools, call.id, 'completed', { call_id: call.callId, name: call.name, arguments: call.args });
      const ref = { item_id: call.id, output_index: call.index };
      if (call.input) {
        const input = customInputOf(call.args);
        // Arguments that were not `{"input": "…"}` as they streamed: the rest of the input at once.
        if (input.startsWith(call.input.sent) && input !== call.input.sent) {
          emit('response.custom_tool_call_input.delta', { ...ref, delta: input.slice(call.input.sent.length) });
        }
        emit('response.custom_tool_call_input.done', { ...ref, input });
      } else emit('response.function_call_arguments.done', { ...ref, name: item.name, arguments: call.args });
      output[call.index] = item;
      emit('response.output_item.done', { output_index: call.index, item });
    }
    calls.clear();
  };

  /** The output so far, the items still being written marked incomplete: what a failed response carries. */
  const outputSoFar = (): Item[] => {
    const items = [...output];
    if (open?.kind === 'message') items[open.index] = messageItem(open.id, 'incomplete', [outputText(open.text, open.citations)]);
    if (open?.kind === 'reasoning') items[open.index] = reasoningItem(open.id, open.text);
    for (const call of calls.values()) {
      items[call.index] = toolCallItem(tools, call.id, 'incomplete', { call_id: call.callId, name: call.name, arguments: call.args });
    }
    return items;
  };

  /** The open item of a kind; opening one closes whatever else was open. */
  const openItem = (kind: 'message' | 'reasoning'): { index: number; id: string; text: string; citations: UrlCitation[] } => {
    if (open?.kind === kind) return open;
    closeOpen();
    closeCalls();
    const index = output.length;
    const id = randomId(kind === 'message' ? 'msg_' : 'rs_');
    const item = { kind, index, id, text: '', citations: [] };
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
    const name = delta.function?.name ?? '';
    const custom = tools.clientTool(name).kind === 'custom';
    const id = randomId(toolCallItemPrefix(tools, name));
    const call = { kind: 'call' as const, index, id, callId: delta.id ?? randomId('call_'), name, args: '', ...(custom ? { input: new StreamedInput() } : {}) };
    calls.set(delta.index, call);
    output.push(toolCallItem(tools, call.id, 'in_progress', { call_id: call.callId, name, arguments: '' }));
    emit('response.output_item.added', { output_index: index, item: output[index] });
    return call;
  };

  /** A finished hosted search: its whole item at once, with the events OpenAI sends for one. */
  const searched = (search: WebSearchCall) => {
    closeOpen();
    closeCalls();
    const index = output.length;
    const id = randomId('ws_');
    const ref = { output_index: index, item_id: id };
    output.push(webSearchCallItem(id, 'in_progress', search));
    emit('response.output_item.added', { output_index: index, item: output[index] });
    emit('response.web_search_call.in_progress', ref);
    emit('response.web_search_call.searching', ref);
    emit('response.web_search_call.completed', ref);
    output[index] = webSearchCallItem(id, 'completed', search);
    emit('response.output_item.done', { output_index: index, item: output[index] });
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
      if (choice.delta.thinking_blocks) signed = choice.delta.thinking_blocks;
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
      for (const citation of choice.delta.annotations ?? []) {
        const item = openItem('message');
        const ref = { item_id: item.id, output_index: item.index, content_index: 0, annotation_index: item.citations.length };
        item.citations.push(citation);
        emit('response.output_text.annotation.added', { ...ref, annotation: urlAnnotation(citation) });
      }
      // After the citations: a chunk may cite the text and report the search that found it (Gemini's last).
      for (const search of choice.delta.web_search_calls ?? []) searched(search);
      for (const delta of choice.delta.tool_calls ?? []) {
        const call = calls.get(delta.index) ?? openCall(delta);
        const args = delta.function?.arguments;
        if (args) {
          call.args += args;
          const ref = { item_id: call.id, output_index: call.index };
          if (!call.input) emit('response.function_call_arguments.delta', { ...ref, delta: args });
          else {
            const text = call.input.feed(args);
            if (text) emit('response.custom_tool_call_input.delta', { ...ref, delta: text });
          }
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
