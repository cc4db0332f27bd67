import { GatewayError } from '../../errors';
import {
  type ChatMessage,
  type ChatRequest,
  type ContentPart,
  jsonObjectOf,
  maxTokensOf,
  omitUndefined,
  stopSequencesOf,
  textOf,
  THINKING_BUDGET,
  toolArgumentsOf,
} from '../pivot/chat';
import { thoughtSignatureOf } from '../pivot/thought-signatures';
import { ImageFetcher, parseDataUrl } from '../pivot/images';
import type { TranslateContext } from '../adapter';
import { googleSearchFields } from './web-search';

// The pivot as a Gemini GenerateContentRequest. Images given by http(s) URL are fetched by the
// gateway and sent inline: Gemini's fileData takes only Files API URIs.

type GeminiPart = Record<string, unknown>;
type Content = { role: 'user' | 'model'; parts: GeminiPart[] };

const unsupported = (what: string) => new GatewayError(400, `${what} cannot be translated to Gemini`, 'unsupported_by_translation');

/** The model id in a Gemini path: `models/x` and `x` name the same model. */
export const geminiModel = (model: string) => model.replace(/^models\//, '');

async function imagePart(url: string, images: ImageFetcher): Promise<GeminiPart> {
  const image = parseDataUrl(url) ?? (await images.fetch(url));
  return { inlineData: { mimeType: image.mediaType, data: image.data } };
}

async function userParts(content: ChatMessage['content'], images: ImageFetcher): Promise<GeminiPart[]> {
  if (typeof content === 'string') return content ? [{ text: content }] : [];
  const parts = (content ?? []).map(async (part: ContentPart): Promise<GeminiPart[]> => {
    if (part.type === 'text') return part.text ? [{ text: part.text }] : [];
    if (part.type === 'image_url' && part.image_url) return [await imagePart(part.image_url.url, images)];
    throw unsupported(`a "${part.type}" content part`);
  });
  return (await Promise.all(parts)).flat();
}

/** A tool result as Gemini's `response` object: JSON objects as they are, anything else as `output`. */
function toolResponse(text: string): Record<string, unknown> {
  return jsonObjectOf(text) ?? { output: text };
}

function toolConfig(req: ChatRequest): Record<string, unknown> | undefined {
  const choice = req.tool_choice;
  if (choice === 'none') return { functionCallingConfig: { mode: 'NONE' } };
  if (choice === 'required') return { functionCallingConfig: { mode: 'ANY' } };
  if (typeof choice === 'object' && choice !== null) {
    return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.function.name] } };
  }
  return choice === 'auto' ? { functionCallingConfig: { mode: 'AUTO' } } : undefined;
}

/** `reasoning_effort` as a thinking budget, with the thoughts' summaries asked for (they become reasoning text). */
function thinkingConfig(req: ChatRequest): Record<string, unknown> {
  const effort = req.reasoning_effort;
  if (!effort) return {};
  if (effort === 'none') return { thinkingConfig: { thinkingBudget: 0 } };
  return { thinkingConfig: { thinkingBudget: THINKING_BUDGET[effort] ?? THINKING_BUDGET.medium, includeThoughts: true } };
}

function responseFormat(req: ChatRequest): Record<string, unknown> {
  const format = req.response_format;
  if (format?.type === 'json_object') return { responseMimeType: 'application/json' };
  if (format?.type === 'json_schema') return { responseMimeType: 'application/json', responseJsonSchema: format.json_schema?.schema };
  return {};
}

/**
 * The pivot as a Gemini request body. Tool results find their function's name through the call id
 * (Gemini matches results to calls by name and order); consecutive turns of one role are merged.
 */
export async function chatToGenerateContent(req: ChatRequest, ctx: TranslateContext): Promise<Record<string, unknown>> {
  if ((req.n ?? 1) > 1) throw unsupported('n > 1');
  const nameByCallId = new Map(req.messages.flatMap((m) => (m.tool_calls ?? []).map((call) => [call.id, call.function.name] as const)));
  const system: string[] = [];
  const images = ctx.images ?? new ImageFetcher(ctx.signal);
  images.admit(
    req.messages.flatMap((m) =>
      Array.isArray(m.content) ? m.content.flatMap((part) => (part.type === 'image_url' && part.image_url ? [part.image_url.url] : [])) : [],
    ),
  );
  const turns = await Promise.all(
    req.messages.map(async (message): Promise<Content | undefined> => {
      switch (message.role) {
        case 'system':
        case 'developer':
          system.push(textOf(message.content));
          return undefined;
        case 'user':
          return { role: 'user', parts: await userParts(message.content, images) };
        case 'assistant': {
          const text = textOf(message.content);
          // Reasoning text is not sent back (Gemini has no field for it); signatures are, from the ids.
          const calls = (message.tool_calls ?? []).map((call) => {
            const signature = thoughtSignatureOf(call.id);
            return {
              functionCall: { name: call.function.name, args: toolArgumentsOf(call.function.arguments, call.function.name) },
              ...(signature ? { thoughtSignature: signature } : {}),
            };
          });
          return { role: 'model', parts: [...(text ? [{ text }] : []), ...calls] };
        }
        case 'tool': {
          const name = nameByCallId.get(message.tool_call_id ?? '');
          if (!name) {
            throw new GatewayError(400, `tool result "${message.tool_call_id}" answers no tool call of the conversation`, 'unknown_tool_call');
          }
          return { role: 'user', parts: [{ functionResponse: { name, response: toolResponse(textOf(message.content)) } }] };
        }
        default:
          throw unsupported(`a message with role "${message.role}"`);
      }
    }),
  );
  const contents: Content[] = [];
  for (const turn of turns) {
    if (!turn) continue;
    const last = contents.at(-1);
    if (last?.role === turn.role) last.parts.push(...turn.parts);
    else contents.push(turn);
  }

  const generationConfig = omitUndefined({
    temperature: req.temperature ?? undefined,
    topP: req.top_p ?? undefined,
    maxOutputTokens: maxTokensOf(req),
    stopSequences: stopSequencesOf(req),
    seed: req.seed ?? undefined,
    presencePenalty: req.presence_penalty ?? undefined,
    frequencyPenalty: req.frequency_penalty ?? undefined,
    ...responseFormat(req),
    ...thinkingConfig(req),
  });
  return omitUndefined({
    contents,
    systemInstruction: system.length ? { parts: [{ text: system.join('\n\n') }] } : undefined,
    generationConfig: Object.keys(generationConfig).length ? generationConfig : undefined,
    ...geminiTools(req),
  });
}

/** The pivot's functions as function declarations and its web search as Google Search grounding. */
function geminiTools(req: ChatRequest): { tools?: Record<string, unknown>[]; toolConfig?: Record<string, unknown> } {
  const functions = req.tools?.length ? req.tools : undefined;
  const declared = functions && {
    functionDeclarations: functions.map((tool) =>
      omitUndefined({ name: tool.function.name, description: tool.function.description, parametersJsonSchema: tool.function.parameters }),
    ),
  };
  const search = req.web_search_options ? googleSearchFields(functions !== undefined) : undefined;
  const tools = [...(declared ? [declared] : []), ...(search ? [search.tool] : [])];
  const config = { ...(functions ? toolConfig(req) : {}), ...search?.toolConfig };
  return omitUndefined({ tools: tools.length ? tools : undefined, toolConfig: Object.keys(config).length ? config : undefined });
}
