import anthropicError429 from '../../fixtures/protocols/anthropic/error-429.json?raw';
import anthropicMessage from '../../fixtures/protocols/anthropic/message-text.json?raw';
import anthropicStream from '../../fixtures/protocols/anthropic/stream-text.sse?raw';
import geminiEmbed from '../../fixtures/protocols/gemini/batch-embed.json?raw';
import geminiCount from '../../fixtures/protocols/gemini/count-tokens.json?raw';
import geminiError400 from '../../fixtures/protocols/gemini/error-400.json?raw';
import geminiResponse from '../../fixtures/protocols/gemini/response-text.json?raw';
import geminiStream from '../../fixtures/protocols/gemini/stream-text.sse?raw';
import openaiCompletion from '../../fixtures/protocols/openai/completion-text.json?raw';
import openaiError401 from '../../fixtures/protocols/openai/error-401.json?raw';
import openaiStream from '../../fixtures/protocols/openai/stream-text.sse?raw';
import { keySucceeded } from '../../../src/forward/keys';
import type { UpstreamCall } from '../helpers/fetch';
import { mockUpstream } from '../helpers/fetch';
import { testConfig } from '../helpers/vault';

// Upstream answers for route tests, from the recorded-shape fixtures, chosen by URL and `stream`.

const json = (text: string, status = 200) => new Response(text, { status, headers: { 'content-type': 'application/json' } });
const sse = (text: string) => new Response(text, { headers: { 'content-type': 'text/event-stream' } });

export const fixtureErrors = {
  anthropic429: () => json(anthropicError429, 429),
  gemini400: () => json(geminiError400, 400),
  openai401: () => json(openaiError401, 401),
};

export function fixtureAnswer(call: UpstreamCall): Response {
  const path = call.url.split('?')[0]!;
  const stream = call.body.length > 0 && call.json().stream === true;
  if (path.endsWith(':streamGenerateContent')) return sse(geminiStream);
  if (path.endsWith(':generateContent')) return json(geminiResponse);
  if (path.endsWith(':batchEmbedContents')) return json(geminiEmbed);
  if (path.endsWith(':countTokens')) return json(geminiCount);
  if (path.endsWith('/messages/count_tokens')) return json('{"input_tokens":14}');
  if (path.endsWith('/messages')) return stream ? sse(anthropicStream) : json(anthropicMessage);
  if (path.endsWith('/chat/completions')) return stream ? sse(openaiStream) : json(openaiCompletion);
  if (path.endsWith('/embeddings')) {
    return Response.json({
      object: 'list',
      data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }],
      model: call.json().model,
      usage: { prompt_tokens: 2, total_tokens: 2 },
    });
  }
  if (path.endsWith('/images/generations')) return Response.json({ created: 1, data: [{ url: 'https://images.example.com/1.png' }] });
  throw new Error(`no fixture answer for ${call.url}`);
}

/** Every provider answered from the fixtures, unless `override` answers the call first. */
export function mockFixtures(override?: (call: UpstreamCall, index: number) => Response | undefined) {
  return mockUpstream((call, index) => override?.(call, index) ?? fixtureAnswer(call));
}

/** Keys that failed in one test rest (src/forward/keys.ts): the next test starts with none resting. */
export function forgetKeyRests() {
  for (const [id, provider] of Object.entries(testConfig().providers)) {
    for (const { key } of provider.keys as { key: string }[]) keySucceeded(id, key);
  }
}
