import type { Context } from 'hono';
import type { Env } from '../env';
import { GatewayError } from '../errors';
import { type TranslateContext } from '../protocols/adapter';
import { ADAPTERS } from '../protocols/registry';
import { foldMidConversationSystem, messagesToChat } from '../protocols/anthropic/request';
import { CountTokensRequest } from '../protocols/anthropic/schema';
import type { WireProtocol } from '../providers/table';
import { allowedImageHosts, ImageFetcher } from '../protocols/pivot/images';
import { loadConfig } from '../vault/store';
import { type Candidate, resolveCandidates } from './candidates';
import { readBody } from './body';
import { type Attempt, firstServed } from './fallback';
import {
  admitCandidates,
  answerJson,
  chainDeadline,
  chainOf,
  JSON_HEADERS,
  labelled,
  sendTo,
  translatedAnswer,
  translatedError,
  translatedHeaders,
} from './upstream';
import { anthropicErrors } from '../protocols/anthropic/errors';

// POST /v1/messages/count_tokens, answered only where the count is the provider's own: Anthropic
// (passed through) and protocols with a token-counting API (Gemini countTokens). Anything else is a
// 501: a count from another tokenizer would be a guess.

type Counter = NonNullable<(typeof ADAPTERS)[WireProtocol]['countTokens']>;

export const COUNTING_PROTOCOLS: WireProtocol[] = (Object.entries(ADAPTERS) as [WireProtocol, (typeof ADAPTERS)[WireProtocol]][])
  .filter(([, a]) => a.countTokens)
  .map(([p]) => p);

/** The candidates for a token count: only providers that count with their own tokenizer (501 otherwise). */
export async function countingCandidates(c: Context<Env>, model: string): Promise<Candidate[]> {
  return resolveCandidates(await loadConfig(c.env), c.get('user'), c.get('userName'), model, {
    protocols: COUNTING_PROTOCOLS,
    refusal: (protocols) =>
      new GatewayError(
        501,
        `token counting is answered only for models of providers that count with their own tokenizer (${COUNTING_PROTOCOLS.join(', ')}); "${model}" is served by ${protocols} providers`,
        'count_tokens_unsupported',
      ),
  });
}

export async function serveCountTokens(c: Context<Env>): Promise<Response> {
  const body = await readBody(c, { path: 'messages/count_tokens', kind: 'chat' }, CountTokensRequest);
  const candidates = await countingCandidates(c, body.model);
  await admitCandidates(c, candidates, body);
  const deadline = chainDeadline(c);
  const images = new ImageFetcher(c.req.raw.signal, allowedImageHosts(c.env.IMAGE_FETCH_ALLOW_HOSTS));

  const attempt = async (candidate: Candidate): Promise<Attempt<{ counter: Counter }>> => {
    const counter = candidate.protocol === 'anthropic' ? undefined : ADAPTERS[candidate.protocol].countTokens;
    if (!counter) {
      const call = {
        operation: 'messages/count_tokens',
        search: '',
        body: { ...foldMidConversationSystem(body, c.req.header('anthropic-beta')), model: candidate.model.id },
      };
      return { response: await sendTo(c, candidate, call, { incoming: c.req.raw.headers, deadline }) };
    }
    const ctx: TranslateContext = { model: candidate.model.id, signal: c.req.raw.signal, images };
    const call = await counter.request({ ...messagesToChat(body), model: candidate.model.id }, ctx);
    return { response: await sendTo(c, candidate, call, { incoming: translatedHeaders(false), deadline }), translated: { counter } };
  };

  const { response, translated, candidate } = await firstServed(candidates, attempt, chainOf(c));
  if (!translated) return labelled(response, candidate);
  if (!response.ok) return translatedError(response, candidate, anthropicErrors);
  const inputTokens = translated.counter.response(await answerJson(response, candidate));
  return translatedAnswer(response, candidate, JSON.stringify({ input_tokens: inputTokens }), JSON_HEADERS);
}
