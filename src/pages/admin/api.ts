// The operator API, called with the token held in memory only (never storage, never the URL).
import { gatewayFailure } from '../shared/errors';

let token: string | undefined;

export const signIn = (value: string) => {
  token = value;
};
export const signOut = () => {
  token = undefined;
};

/** A call to the operator API: its JSON answer, or a ShownError with the gateway's reason. */
export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown; /** Error statuses whose body is the answer too. */ accept?: number[] } = {},
): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token ?? ''}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    cache: 'no-store',
  });
  if (!res.ok && !init.accept?.includes(res.status)) throw await gatewayFailure(res);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

export interface User {
  name: string;
  keyHint: string | null;
  rpm: number | null;
  providers: string[] | null;
  models: string[] | null;
  disabled: boolean;
  expiresAt: string | null;
  monthlyBudgetUsd: number | null;
  dailyTokens: number | null;
}

export interface UsageLine {
  user?: string;
  provider?: string;
  model?: string | null;
  day?: string;
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
  unpriced_requests: number;
}

export interface UsageRecord {
  id: string;
  time: string;
  user: string;
  provider: string;
  model: string | null;
  status: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
  latency_ms: number;
}

export interface List<T> {
  data: T[];
  next?: string | null;
}

/** Moving averages of a provider or a key (src/health/signals.ts); null until traffic was seen. */
export interface SignalAverages {
  ttfbMs: number | null;
  tokensPerSecond: number | null;
  errorRate: number | null;
  refusalRate: number | null;
}

export interface ProviderSignals extends SignalAverages {
  updatedAt: string | null;
  keys: (SignalAverages & {
    index: number;
    headroom: { requests?: number; requestsResetAt?: number; tokens?: number; tokensResetAt?: number; at: number } | null;
  })[];
  points: (SignalAverages & { at: number })[];
}

export interface Health {
  status: 'ok' | 'degraded' | 'down';
  checks: Record<string, { ok: boolean; error?: string }>;
  providers: Record<
    string,
    {
      keys: number;
      usable: number;
      resting: number;
      expired: number;
      lastFailure: { status: number | null; reason: string | null; at: string } | null;
      signals?: ProviderSignals;
    }
  >;
}

/** Numbers as the page shows them: grouped digits; money with up to 6 decimals; unknown as "—". */
export const formatCount = (n: number) => n.toLocaleString('en-US');
export const formatUsd = (n: number | null) => (n === null ? '—' : `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 6 })}`);
