import type { Alert } from './alerts/alert';
import type { ErrorDialect } from './errors';
import type { KeyHealth } from './limits/key-health';
import type { RateLimiter } from './limits/rate-limiter';
import type { UserMeter } from './limits/user-meter';
import type { CostBound } from './usage/price';
import type { UsageTap } from './usage/tap';
import type { UsersDirectory } from './users/directory';
import type { AiConfig, Provider, User } from './vault/schema';
import type { VaultWriter } from './vault/writer';

export interface Bindings {
  KV_AI_PROXY: KVNamespace;
  RATE_LIMITER: DurableObjectNamespace<RateLimiter>;
  /** One object per user: rate limit, budget reservations, pending usage records (src/limits/user-meter.ts). */
  USER_METER: DurableObjectNamespace<UserMeter>;
  /** The one writer of the KV `users` map (src/users/directory.ts). */
  USERS_DIRECTORY: DurableObjectNamespace<UsersDirectory>;
  /** Provider key health shared by every isolate (src/limits/key-health.ts). */
  KEY_HEALTH: DurableObjectNamespace<KeyHealth>;
  /** The one writer of the vault in KV, keeping replaced versions (src/vault/writer.ts). */
  VAULT_WRITER: DurableObjectNamespace<VaultWriter>;
  /** Usage records (migrations/). */
  DB: D1Database;
  /** Alerts on their way to ALERT_WEBHOOK_URL (src/alerts/; README, "Alerts"). */
  ALERTS: Queue<Alert>;
  AI_JSON_CRYPTOKEN?: string;
  /** The operator's bearer token (never the vault's); when unset, AI_JSON_CRYPTOKEN is (README, "Who can do what"). */
  ADMIN_TOKEN?: string;
  /** `true`: GET /ai.json.enc needs no credential (old scripts); otherwise it needs the vault passphrase. */
  PUBLIC_VAULT_DOWNLOAD?: string;
  CLOUDFLARE_ACCOUNT_ID?: string;
  CLOUDFLARE_AIG_TOKEN?: string;
  DEBUG?: string;
  /** Comma-separated allowed origins for CORS; `*` (default) allows any. */
  CORS_ORIGINS?: string;
  /** `global`: cached answers are shared by every user; otherwise (default) each user has their own. */
  CACHE_SCOPE?: string;
  /** Local development and tests only: `host:port`s image URLs may name although they are not public. */
  IMAGE_FETCH_ALLOW_HOSTS?: string;
  /** `true` only in `npm run dev`'s demo: its published vault token is reported as the demo's (info), not as an error. */
  SWITCHYARD_DEMO?: string;
  /** Local dev only (`npm run dev` passes users.json here): users used while KV has none. */
  DEV_USERS_JSON?: string;
  /** Limits and resilience settings (whole numbers as text; defaults in src/limits/settings.ts). */
  DEFAULT_RPM?: string;
  AUTH_FAILURE_LIMIT?: string;
  AUTH_FAILURE_WINDOW_S?: string;
  MAX_ATTEMPTS?: string;
  MAX_REQUEST_ATTEMPTS?: string;
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS?: string;
  UPSTREAM_DEADLINE_MS?: string;
  UPSTREAM_IDLE_TIMEOUT_MS?: string;
  STORE_TIMEOUT_MS?: string;
  /** Days a usage record is kept in D1 (default 90). */
  USAGE_RETENTION_DAYS?: string;
  /** Leases and batched settles (docs/architecture.md, "Leases"): a lease's life and the least time between two settles, in ms. */
  LEASE_MS?: string;
  SETTLE_INTERVAL_MS?: string;
  /** Alerts (README, "Alerts"; src/alerts/settings.ts): the webhook (off when unset), its HMAC secret, and when to alert. */
  ALERT_WEBHOOK_URL?: string;
  ALERT_WEBHOOK_SECRET?: string;
  ALERT_PROVIDER_FAILING_MINUTES?: string;
  ALERT_DAILY_SPEND_USD?: string;
  ALERT_RETRY_DELAY_S?: string;
  /** Routing signals (README, "Routing"): the moving averages' time constant and the isolate's report period, in ms. */
  SIGNAL_WINDOW_MS?: string;
  SIGNAL_FLUSH_MS?: string;
  /** Traces (README, "Traces"; src/traces/settings.ts): the OTLP/HTTP base endpoint (off when unset), its headers (a secret), the service name. */
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_HEADERS?: string;
  OTEL_SERVICE_NAME?: string;
}

export interface Variables {
  /** The gateway's own id for this request (src/middleware/request-id.ts). */
  requestId: string;
  /** The client's X-Request-Id, when it sent a well-formed one: a label, never a key. */
  clientRequestId?: string;
  /** The user's stable id: what meters, records, stored responses and cache scopes hang off. */
  userId: string;
  /** The user's name in the users map: a label. */
  userName: string;
  user: User;
  config: AiConfig;
  /** Set by Anthropic-dialect routes: errors are rendered in Anthropic's shape. */
  errorDialect?: ErrorDialect;
  /** Metered routes: what the request did upstream, for its usage record. */
  tap?: UsageTap;
  /**
   * Metered routes: the rate limit and the budget reservation in one call to the user's object, once
   * the request's models are known and before anything is sent. Throws the 429 when refused.
   */
  admit?: (cost: CostBound) => Promise<void>;
  /** Headers for the answer, set on it once it exists (src/middleware/answer-headers.ts). */
  answerHeaders?: [string, string][];
  /** Upstream attempts left for this request, shared by the providers of a fallback chain (unified/upstream.ts). */
  attemptBudget?: { left: number };
}

export type Env = { Bindings: Bindings; Variables: Variables };

export type { AiConfig, Provider, User };
