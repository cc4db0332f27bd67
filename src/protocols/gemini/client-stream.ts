import { type PivotEvent, reasoningOf, type ThinkingBlock, type Usage } from '../pivot/chat';
import { closingParts, type FunctionCallOut, geminiFinishReason, geminiUsage } from './client-response';
import { geminiErrors } from './errors';

// Pivot events as a Gemini client's stream: `alt=sse` (`data:` events framed with CRLF, as Google's)
// or, without it, one JSON array sent element by element. Each element is a partial
// GenerateContentResponse; the last carries finishReason, usageMetadata and the function calls,
// which arrive whole (Gemini does not stream a call's arguments). One text element is held back so
// that the finish rides on the last text, as in Gemini's own streams.

export type GeminiStreamFormat = 'sse' | 'json-array';

export function encodeGenerateContentStream(model: string, includeThoughts: boolean, format: GeminiStreamFormat): TransformStream<PivotEvent, string> {
  let sent = 0;
  let failed = false;
  let responseId: string | undefined;
  let held: Record<string, unknown>[] | undefined;
  const calls = new Map<number, FunctionCallOut>();
  let thinking: ThinkingBlock[] = [];
  let finishReason: string | null | undefined;
  let usage: Usage | undefined;

  const frame = (data: unknown) => {
    const json = JSON.stringify(data);
    if (format === 'sse') return `data: ${json}\r\n\r\n`;
    return `${sent++ === 0 ? '[' : ',\r\n'}${json}`;
  };
  const element = (parts: Record<string, unknown>[], end?: { finishReason: string; usageMetadata?: Record<string, number> }) => ({
    candidates: [{ content: { role: 'model', parts }, ...(end ? { finishReason: end.finishReason } : {}), index: 0 }],
    ...(end?.usageMetadata ? { usageMetadata: end.usageMetadata } : {}),
    modelVersion: model,
    responseId,
  });

  return new TransformStream({
    transform(event, controller) {
      if (failed) return;
      if ('failure' in event) {
        failed = true;
        const error = geminiErrors.body(event.failure.status, event.failure.message);
        controller.enqueue(format === 'sse' ? geminiErrors.streamFrame(event.failure.status, event.failure.message) : `${frame(error)}]`);
        return;
      }
      const { chunk } = event;
      responseId ??= chunk.id;
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) return;
      const { delta } = choice;
      const emit = (parts: Record<string, unknown>[]) => {
        if (held) controller.enqueue(frame(element(held)));
        held = parts;
      };
      const reasoning = reasoningOf(delta);
      if (includeThoughts && reasoning) emit([{ text: reasoning, thought: true }]);
      if (delta.content) emit([{ text: delta.content }]);
      for (const call of delta.tool_calls ?? []) {
        const known = calls.get(call.index);
        if (known) known.arguments += call.function?.arguments ?? '';
        else calls.set(call.index, { id: call.id ?? `call_${call.index}`, name: call.function?.name ?? '', arguments: call.function?.arguments ?? '' });
      }
      if (delta.thinking_blocks) thinking = delta.thinking_blocks;
      if (choice.finish_reason) finishReason = choice.finish_reason;
    },
    flush(controller) {
      if (failed) return;
      if (responseId === undefined) {
        const message = 'the provider ended the stream without an answer';
        controller.enqueue(format === 'sse' ? geminiErrors.streamFrame(502, message) : `${frame(geminiErrors.body(502, message))}]`);
        return;
      }
      const last = held?.at(-1)?.thought ? undefined : held?.at(-1);
      const parts = [...(held ?? []), ...closingParts([...calls.values()], thinking, last)];
      const end = { finishReason: geminiFinishReason(finishReason), usageMetadata: geminiUsage(usage) };
      controller.enqueue(frame(element(parts.length ? parts : [{ text: '' }], end)));
      if (format === 'json-array') controller.enqueue(']');
    },
  });
}
