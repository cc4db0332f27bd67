import type { AiConfig, Provider, User } from './vault/schema';

export interface Bindings {
  KV_AI_PROXY: KVNamespace;
  RATE_LIMITER: DurableObjectNamespace;
  AI_JSON_CRYPTOKEN?: string;
  CLOUDFLARE_ACCOUNT_ID?: string;
  CLOUDFLARE_AIG_TOKEN?: string;
  DEBUG?: string;
  /** Comma-separated allowed origins for CORS; `*` (default) allows any. */
  CORS_ORIGINS?: string;
  /** Local dev only (`npm run dev` passes users.json here): users used while KV has none. */
  DEV_USERS_JSON?: string;
}

export interface Variables {
  requestId: string;
  userName: string;
  user: User;
  config: AiConfig;
}

export type Env = { Bindings: Bindings; Variables: Variables };

export type { AiConfig, Provider, User };
