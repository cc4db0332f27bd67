import { type ChatCompletion, jsonObjectOf, omitUndefined, reasoningOf, type ThinkingBlock, type Usage } from '../pivot/chat';
import { thinkingSignature } from './thinking-signature';

// The pivot's answers as a Gemini client reads them: candidates[].content.parts (thought summaries
// when the client asked for them, text, function calls with the call's id), finishReason, usageMetadata.

const FINISH_REASONS: Record<string, string> = { stop: 'STOP', length: 'MAX_TOKENS', tool_calls: 'STOP', function_call: 'STOP', content_filter: 'SAFETY' };

export const geminiFinishReason = (reason: string | null | undefined) => FINISH_REASONS[reason ?? ''] ?? 'STOP';

/** Pivot usage as usageMetadata: thoughts counted apart from the answer, as Gemini does. */
export function geminiUsage(usage: Usage | null | undefined): Record<string, number> | undefined {
  if (!usage) return undefined;
  const thoughts = (usage as { completion_tokens_details?: { reasoning_tokens?: number } | null }).completion_tokens_details?.reasoning_tokens ?? 0;
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  return {
    promptTokenCount: usage.prompt_tokens,
    candidatesTokenCount: usage.completion_tokens - thoughts,
    totalTokenCount: usage.prompt_tokens + usage.completion_tokens,
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
    ...(cached ? { cachedContentTokenCount: cached } : {}),
  };
}

export interface FunctionCallOut {
  id: string;
  name: string;
  arguments: string;
}

/** A pivot call's JSON-string arguments as Gemini's `args` object; text that is no JSON object is kept under `arguments`. */
const argsOf = (text: string) => jsonObjectOf(text) ?? (text.trim() ? { arguments: text } : {});

export const functionCallPart = (call: FunctionCallOut) => ({ functionCall: { id: call.id, name: call.name, args: argsOf(call.arguments) } });

/**
 * The closing parts of an answer: its function calls, and Anthropic's signed thinking on the first
 * of them (where Gemini puts its own signature), else on `last` (the answer's last text part) or an empty text part.
 */
export function closingParts(calls: FunctionCallOut[], thinking: ThinkingBlock[], last?: Record<string, unknown>): Record<string, unknown>[] {
  const parts: Record<string, unknown>[] = calls.map(functionCallPart);
  if (!thinking.length) return parts;
  const signature = thinkingSignature(thinking);
  if (parts[0]) parts[0] = { ...parts[0], thoughtSignature: signature };
  else if (last) last.thoughtSignature = signature;
  else parts.push({ text: '', thoughtSignature: signature });
  return parts;
}

/** A pivot completion as a GenerateContentResponse naming `model` (as the client asked for it). */
export function chatToGenerateContentResponse(completion: ChatCompletion, model: string, includeThoughts: boolean): Record<string, unknown> {
  const candidates = completion.choices.map((choice) => {
    const { message } = choice;
    const reasoning = reasoningOf(message);
    const text = message.content ? { text: message.content } : undefined;
    const calls = (message.tool_calls ?? []).map((call) => ({ id: call.id, name: call.function.name, arguments: call.function.arguments }));
    const parts = [
      ...(includeThoughts && reasoning ? [{ text: reasoning, thought: true }] : []),
      ...(text ? [text] : []),
      ...closingParts(calls, message.thinking_blocks ?? [], text),
    ];
    return {
      content: { role: 'model', parts: parts.length ? parts : [{ text: '' }] },
      finishReason: geminiFinishReason(choice.finish_reason),
      index: choice.index,
    };
  });
  return omitUndefined({ candidates, usageMetadata: geminiUsage(completion.usage), modelVersion: model, responseId: completion.id });
}
