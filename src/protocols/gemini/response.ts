import { GatewayError } from '../../errors';
import type { ChatCompletion, PivotEvent, ToolCall } from '../pivot/chat';
import { ChunkWriter, usageOf } from '../pivot/chunks';
import { failureOf, truncated, unreadable } from '../failures';
import { nowSeconds, randomId } from '../pivot/ids';
import { withThoughtSignature } from '../pivot/thought-signatures';
import type { EventSourceMessage } from '../pivot/sse';
import type { TranslateContext } from '../adapter';
import { GenerateContentResponse, type GroundingMetadata, type Part, type UsageMetadata } from './schema';
import { groundingOf } from './web-search';

// Gemini answers (JSON, and `alt=sse` events, each a partial GenerateContentResponse) as the pivot.
// Gemini function calls carry no id unless the API gives one: the gateway makes one up (`call_…`).

const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'LANGUAGE']);

export function finishReasonOf(reason: string | undefined, calledTools: boolean, blocked: boolean): string {
  if (blocked || FILTERED.has(reason ?? '')) return 'content_filter';
  if (reason === 'MAX_TOKENS') return 'length';
  return calledTools ? 'tool_calls' : 'stop';
}

export function pivotUsage(usage: UsageMetadata | undefined) {
  const prompt = usage?.promptTokenCount ?? 0;
  // OpenAI counts reasoning tokens as completion tokens.
  const completion = (usage?.candidatesTokenCount ?? 0) + (usage?.thoughtsTokenCount ?? 0);
  return usageOf(prompt, completion, usage?.cachedContentTokenCount);
}

/** Answer text, without thought summaries. */
const textParts = (parts: Part[]) =>
  parts
    .filter((part) => typeof part.text === 'string' && !part.thought)
    .map((part) => part.text)
    .join('');

/** Thought summaries (`includeThoughts`), the pivot's reasoning text. */
const thoughtParts = (parts: Part[]) =>
  parts
    .filter((part) => typeof part.text === 'string' && part.thought)
    .map((part) => part.text)
    .join('');

/** Function calls as pivot tool calls; a call's thought signature rides in its id. */
const toolCalls = (parts: Part[]): ToolCall[] =>
  parts.flatMap((part) =>
    part.functionCall
      ? [
          {
            id: withThoughtSignature(part.functionCall.id ?? randomId('call_'), part.thoughtSignature),
            type: 'function',
            function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) },
          },
        ]
      : [],
  );

export function generateContentToChat(json: unknown, ctx: TranslateContext): ChatCompletion {
  const parsed = GenerateContentResponse.safeParse(json);
  if (!parsed.success) throw new GatewayError(502, 'the provider answered with a Gemini response the gateway cannot read', 'upstream_unreadable');
  const answer = parsed.data;
  const candidate = answer.candidates?.[0];
  const parts = candidate?.content?.parts ?? [];
  const calls = toolCalls(parts);
  const text = textParts(parts);
  const reasoning = thoughtParts(parts);
  const { searches, citations } = groundingOf(candidate?.groundingMetadata, text);
  return {
    id: answer.responseId ? `chatcmpl-${answer.responseId}` : randomId('chatcmpl-'),
    object: 'chat.completion',
    created: nowSeconds(),
    model: answer.modelVersion ?? ctx.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: text || (calls.length ? null : ''),
          ...(reasoning ? { reasoning_content: reasoning } : {}),
          ...(calls.length ? { tool_calls: calls } : {}),
          ...(searches.length ? { web_search_calls: searches } : {}),
          ...(citations.length ? { annotations: citations } : {}),
        },
        logprobs: null,
        finish_reason: finishReasonOf(candidate?.finishReason, calls.length > 0, Boolean(answer.promptFeedback?.blockReason)),
      },
    ],
    usage: pivotUsage(answer.usageMetadata),
  };
}

/** A Gemini `alt=sse` stream as pivot events. */
export function decodeGenerateContentStream(ctx: TranslateContext): TransformStream<EventSourceMessage, PivotEvent> {
  const out = new ChunkWriter(ctx.model);
  let started = false;
  let finishReason: string | undefined;
  let blocked = false;
  let toolCount = 0;
  let usage: UsageMetadata | undefined;
  let failed = false;
  // The answer's text so far and its grounding (the last chunks carry it, covering the whole text).
  let answered = '';
  let grounding: GroundingMetadata | undefined;
  return new TransformStream({
    transform(message, controller) {
      if (failed) return;
      let data: unknown;
      try {
        data = JSON.parse(message.data);
      } catch {
        data = undefined;
      }
      const failure = failureOf(data);
      const parsed = GenerateContentResponse.safeParse(data);
      if (failure || !parsed.success) {
        failed = true;
        controller.enqueue({ failure: failure ?? unreadable('gemini') });
        return;
      }
      const answer = parsed.data;
      if (!started) {
        started = true;
        if (answer.responseId) out.id = `chatcmpl-${answer.responseId}`;
        if (answer.modelVersion) out.model = answer.modelVersion;
        controller.enqueue({ chunk: out.delta({ role: 'assistant', content: '' }) });
      }
      const candidate = answer.candidates?.[0];
      const parts = candidate?.content?.parts ?? [];
      const reasoning = thoughtParts(parts);
      if (reasoning) controller.enqueue({ chunk: out.delta({ reasoning_content: reasoning }) });
      const text = textParts(parts);
      if (text) controller.enqueue({ chunk: out.delta({ content: text }) });
      answered += text;
      grounding = candidate?.groundingMetadata ?? grounding;
      const calls = toolCalls(parts).map((call) => ({ index: toolCount++, ...call }));
      if (calls.length) controller.enqueue({ chunk: out.delta({ tool_calls: calls }) });
      finishReason = candidate?.finishReason ?? finishReason;
      blocked ||= Boolean(answer.promptFeedback?.blockReason);
      usage = answer.usageMetadata ?? usage;
    },
    flush(controller) {
      if (failed) return;
      if (!finishReason && !blocked) {
        controller.enqueue({ failure: truncated });
        return;
      }
      const { searches, citations } = groundingOf(grounding, answered);
      if (searches.length) controller.enqueue({ chunk: out.delta({ web_search_calls: searches, annotations: citations }) });
      controller.enqueue({ chunk: out.finish(finishReasonOf(finishReason, toolCount > 0, blocked)) });
      controller.enqueue({ chunk: out.usage(pivotUsage(usage)) });
    },
  });
}
