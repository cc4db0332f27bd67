import { GatewayError, openaiErrors } from '../../errors';
import { ChatChunk, ChatCompletion, ChatRequest, type PivotEvent } from '../pivot/chat';
import { type EventSourceMessage, sseFrame } from '../pivot/sse';
import type { ClientDialect, ProtocolAdapter } from '../adapter';
import { failureOf, truncated, unreadable } from '../failures';

// OpenAI Chat Completions is the pivot: a provider that speaks it gets the pivot request as it is,
// and its answers are the pivot once checked.

function decodeStream(): TransformStream<EventSourceMessage, PivotEvent> {
  // Ends at the first failure: nothing after it reaches the client.
  let ended = false;
  let finished = false;
  return new TransformStream({
    transform(message, controller) {
      if (ended || message.data.trim() === '[DONE]') return;
      let data: unknown;
      try {
        data = JSON.parse(message.data);
      } catch {
        data = undefined;
      }
      const chunk = ChatChunk.safeParse(data);
      const failure = failureOf(data) ?? (chunk.success ? undefined : unreadable('openai'));
      if (failure || !chunk.success) {
        ended = true;
        controller.enqueue({ failure: failure ?? unreadable('openai') });
        return;
      }
      if (chunk.data.choices.some((choice) => choice.finish_reason)) finished = true;
      controller.enqueue({ chunk: chunk.data });
    },
    flush(controller) {
      if (!ended && !finished) controller.enqueue({ failure: truncated });
    },
  });
}

export const openai: ProtocolAdapter = {
  authHeaders: (key) => ({ authorization: `Bearer ${key}` }),
  chat: {
    // Signed thinking blocks are Anthropic's alone; reasoning text stays (DeepSeek wants it back in tool loops).
    request: async (req, ctx) => ({
      operation: 'chat/completions',
      search: '',
      body: { ...req, model: ctx.model, messages: req.messages.map(({ thinking_blocks: _, ...message }) => message) },
    }),
    response(json) {
      const parsed = ChatCompletion.safeParse(json);
      if (!parsed.success) throw new GatewayError(502, 'the provider answered with a chat completion the gateway cannot read', 'upstream_unreadable');
      return parsed.data;
    },
    stream: decodeStream,
  },
};

/** Pivot events as OpenAI SSE: chunks, the usage chunk only when asked for, then `[DONE]`. */
function encodeStream(req: ChatRequest): TransformStream<PivotEvent, string> {
  const includeUsage = req.stream_options?.include_usage === true;
  let failed = false;
  return new TransformStream({
    transform(event, controller) {
      if (failed) return;
      if ('failure' in event) {
        failed = true;
        controller.enqueue(openaiErrors.streamFrame(event.failure.status, event.failure.message));
        return;
      }
      const { usage, ...chunk } = event.chunk;
      if (chunk.choices.length === 0) {
        if (includeUsage && usage) controller.enqueue(sseFrame({ ...chunk, usage }));
        return;
      }
      controller.enqueue(sseFrame(includeUsage ? { ...chunk, usage: null } : chunk));
    },
    flush(controller) {
      if (!failed) controller.enqueue(sseFrame('[DONE]'));
    },
  });
}

export const openaiClient: ClientDialect<ChatRequest> = {
  protocol: 'openai',
  errorDialect: openaiErrors,
  chatOperation: 'chat/completions',
  schema: ChatRequest,
  toPivot: (body) => body,
  passThrough: (body) => body,
  fromPivot: (completion) => completion,
  streamFromPivot: encodeStream,
};
