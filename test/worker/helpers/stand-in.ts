import type { UpstreamCall } from './fetch';
import { mockUpstream } from './fetch';
import {
  anthropicMessage,
  anthropicStream,
  geminiResponse,
  geminiStream,
  jsonResponse,
  openaiChatCompletion,
  openaiChatStream,
  openaiEmbeddings,
  openaiImages,
  openaiModeration,
  openaiTextCompletion,
  sseResponse,
} from './wire';

/**
 * What a real provider would answer to an outgoing call, chosen by its URL (and `stream` in its body):
 * OpenAI-compatible operations, Anthropic Messages, Gemini generateContent, plain or streamed.
 */
export function providerAnswer(call: UpstreamCall): Response {
  const path = call.url.split('?')[0]!;
  const json = (() => {
    try {
      return call.json() as Record<string, unknown>;
    } catch {
      return {};
    }
  })();
  const model = typeof json.model === 'string' ? json.model : 'unknown-model';
  if (/:streamGenerateContent$/.test(path)) return sseResponse(geminiStream(['Hel', 'lo']));
  if (/:generateContent$/.test(path)) return jsonResponse(geminiResponse());
  if (path.endsWith('/messages')) {
    return json.stream ? sseResponse(anthropicStream(model, ['Hel', 'lo'])) : jsonResponse(anthropicMessage(model));
  }
  if (path.endsWith('/chat/completions')) {
    return json.stream ? sseResponse(openaiChatStream(model, ['Hel', 'lo'])) : jsonResponse(openaiChatCompletion(model));
  }
  if (path.endsWith('/completions')) return jsonResponse(openaiTextCompletion(model));
  if (path.endsWith('/embeddings')) return jsonResponse(openaiEmbeddings(model));
  if (path.endsWith('/images/generations')) return jsonResponse(openaiImages());
  if (path.endsWith('/moderations')) return jsonResponse(openaiModeration(model));
  if (path.endsWith('/audio/speech')) {
    return new Response(new Uint8Array([0xff, 0xf3, 0x44, 0xc4, 0x00]), { headers: { 'content-type': 'audio/mpeg' } });
  }
  if (path.endsWith('/audio/transcriptions')) return jsonResponse({ text: 'Hello from the stand-in.' });
  return jsonResponse({ error: { message: `stand-in has no ${path}`, type: 'invalid_request_error', param: null, code: null } }, 404);
}

/** A stand-in for every provider at once: records each call and answers it in the provider's format. */
export function mockProviders() {
  return mockUpstream((call) => providerAnswer(call));
}
