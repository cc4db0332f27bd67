import type { Context } from 'hono';
import type { Env } from '../env';
import { GatewayError } from '../errors';
import { logEvent } from '../log';
import type { ChatTranslation, TranslateContext } from '../protocols/adapter';
import type { ChatRequest } from '../protocols/pivot/chat';
import { servesWebSearchOptions, type WireProtocol } from '../providers/table';
import type { Candidate } from './candidates';

// Hosted tools (the provider's own web search, the pivot's `web_search_options`) reach a provider
// that runs them: Anthropic's web search tool, Gemini's Google Search grounding, OpenAI's own field.
// Elsewhere the request goes on without them and the answer says so (X-Switchyard-Dropped-Tools and
// a log line), unless the provider's vault entry says `hostedTools: "refuse"`: then a 400 names the tool.

export const DROPPED_TOOLS_HEADER = 'X-Switchyard-Dropped-Tools';

/** The hosted tools a request asks for, by the name clients know them by. */
const hostedToolsOf = (fields: { web_search_options?: unknown }) => (fields.web_search_options ? ['web_search'] : []);

/** What a candidate cannot run: refused (a 400) when its vault entry says so; otherwise listed to be dropped. */
function unrunnable(c: Context<Env>, candidate: Candidate, tools: string[]): string[] {
  if (tools.length === 0) return tools;
  if (candidate.provider.hostedTools === 'refuse') {
    throw new GatewayError(
      400,
      `the hosted tool "${tools[0]}" is not available on provider "${candidate.providerId}", which refuses requests with tools it cannot run`,
      'unsupported_tool',
    );
  }
  logEvent(c.env, 'info', { requestId: c.get('requestId'), event: 'hosted_tools_dropped', provider: candidate.providerId, tools: tools.join(',') });
  return tools;
}

/**
 * A translated request as its upstream gets it: without the hosted tools it cannot run, and which
 * those were. `upstream` is the protocol the call goes in; OpenAI's is run by OpenAI itself only.
 */
export function fitHostedTools(
  c: Context<Env>,
  candidate: Candidate,
  upstream: WireProtocol,
  chat: ChatTranslation,
  req: ChatRequest,
  ctx: TranslateContext,
): { request: ChatRequest; dropped: string[] } {
  const runs = upstream === 'openai' ? servesWebSearchOptions(candidate.providerId) : (chat.webSearch?.(req, ctx) ?? false);
  if (runs || !req.web_search_options) return { request: req, dropped: [] };
  const dropped = unrunnable(c, candidate, hostedToolsOf(req));
  const { web_search_options: _dropped, ...request } = req;
  return { request: request as ChatRequest, dropped };
}

/** A Chat Completions body passed through to an OpenAI-protocol provider, fitted the same way. */
export function fitPassedThroughHostedTools<Body extends Record<string, unknown>>(
  c: Context<Env>,
  candidate: Candidate,
  body: Body,
): { body: Body; dropped: string[] } {
  if (!body.web_search_options || servesWebSearchOptions(candidate.providerId)) return { body, dropped: [] };
  const dropped = unrunnable(c, candidate, hostedToolsOf(body));
  const { web_search_options: _dropped, ...rest } = body;
  return { body: rest as Body, dropped };
}

/** The answer, saying which hosted tools its request went without. */
export function withDroppedTools(response: Response, dropped: string[]): Response {
  if (dropped.length === 0) return response;
  const out = new Response(response.body, response);
  out.headers.set(DROPPED_TOOLS_HEADER, dropped.join(', '));
  return out;
}
