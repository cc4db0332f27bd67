import type { ErrorDialect } from './errors';
import type { RateLimiter } from './limits/rate-limiter';
import type { AiConfig, Provider, User } from './vault/schema';

export interface Bindings {
  KV_AI_PROXY: KVNamespace;
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  /** Usage records (migrations/). */
  DB: D1Database;
  AI_JSON_CRYPTOKEN?: string;
  /** The operator's bearer token; when unset, AI_JSON_CRYPTOKEN is (README, "Operating the gateway"). */
  ADMIN_TOKEN?: string;
  CLOUDFLARE_ACCOUNT_ID?: string;
  CLOUDFLARE_AIG_TOKEN?: string;
  DEBUG?: string;
  /** Comma-separated allowed origins for CORS; `*` (default) allows any. */
  CORS_ORIGINS?: string;
  /** `global`: cached answers are shared by every user; otherwise (default) each user has their own. */
  CACHE_SCOPE?: string;
  /** Local dev only (`npm run dev` passes users.json here): users used while KV has none. */
  DEV_USERS_JSON?: string;
  /** Limits and resilience settings (whole numbers as text; defaults in src/limits/settings.ts). */
  DEFAULT_RPM?: string;
  AUTH_FAILURE_LIMIT?: string;
  AUTH_FAILURE_WINDOW_S?: string;
  MAX_ATTEMPTS?: string;
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS?: string;
  UPSTREAM_DEADLINE_MS?: string;
  UPSTREAM_IDLE_TIMEOUT_MS?: string;
}

export interface Variables {
  requestId: string;
  userName: string;
  user: User;
  config: AiConfig;
  /** Set by Anthropic-dialect routes: errors are rendered in Anthropic's shape. */
  errorDialect?: ErrorDialect;
}

export type Env = { Bindings: Bindings; Variables: Variables };

export type { AiConfig, Provider, User };
