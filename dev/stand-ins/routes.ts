import { anthropic } from './anthropic';
import type { Dialect } from './answer';
import { gemini } from './gemini';
import { openai } from './openai';

// Which dialect serves a path, and the operation under its API base.

export type DialectName = 'openai' | 'anthropic' | 'gemini';

export const DIALECTS: Record<DialectName, Dialect> = { openai, anthropic, gemini };

export interface Route {
  dialect: DialectName;
  /** Path after the API base, e.g. `chat/completions`. */
  operation: string;
  /** Set for the AI Gateway stand-in (`/gateway/v1/{account}/{gateway}/…`). */
  gateway?: { account: string; gateway: string; compat: boolean };
}

const GATEWAY = /^\/gateway\/v1\/([^/]+)\/([^/]+)\/([^/]+)\/(.+)$/;

/** AI Gateway provider slugs whose native paths speak a dialect other than OpenAI's. */
const SLUG_DIALECTS: Record<string, DialectName> = { anthropic: 'anthropic', 'google-ai-studio': 'gemini' };

function direct(pathname: string): Omit<Route, 'gateway'> | undefined {
  let match = /^\/anthropic\/v1\/(.+)$/.exec(pathname);
  if (match) return { dialect: 'anthropic', operation: match[1]! };
  match = /^\/gemini\/v1beta\/openai\/(.+)$/.exec(pathname);
  if (match) return { dialect: 'openai', operation: match[1]! };
  match = /^\/gemini\/v1(?:beta|alpha)?\/(.+)$/.exec(pathname);
  if (match) return { dialect: 'gemini', operation: match[1]! };
  // `/openai/v1/…`, `/groq/openai/v1/…`, `/sambanova/v1/…`, `/openrouter/api/v1/…`, `/v1/…`
  match = /^\/(?:[a-z0-9-]+\/)?(?:openai\/|api\/)?v1\/(.+)$/.exec(pathname);
  if (match) return { dialect: 'openai', operation: match[1]! };
  return undefined;
}

export function routeOf(pathname: string): Route | undefined {
  const gateway = GATEWAY.exec(pathname);
  if (!gateway) return direct(pathname);
  const [, account, name, slug, rest] = gateway as unknown as [string, string, string, string, string];
  if (slug === 'compat') return { dialect: 'openai', operation: rest, gateway: { account, gateway: name, compat: true } };
  const dialect = SLUG_DIALECTS[slug] ?? 'openai';
  const operation = dialect === 'openai' ? rest.replace(/^(?:openai\/|api\/)?v1\//, '') : rest.replace(/^v1(?:beta|alpha)?\//, '');
  return { dialect, operation, gateway: { account, gateway: name, compat: false } };
}
