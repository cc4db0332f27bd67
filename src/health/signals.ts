import type { Headroom, SignalPoint, SignalRow } from '../limits/signals';

// The routing signals as the operator's /healthz shows them: per provider its moving averages and
// their recent points (the console's charts), and per vault key (by its index, never the key) its own
// averages and what its provider last said of its headroom.

export interface KeySignals {
  /** The key's index in the vault provider's `keys`. */
  index: number;
  ttfbMs: number | null;
  tokensPerSecond: number | null;
  errorRate: number | null;
  refusalRate: number | null;
  headroom: Headroom | null;
}

export interface ProviderSignals {
  ttfbMs: number | null;
  tokensPerSecond: number | null;
  errorRate: number | null;
  refusalRate: number | null;
  /** When the last observation came (ISO), or null when the provider has seen no traffic. */
  updatedAt: string | null;
  keys: KeySignals[];
  points: Omit<SignalPoint, 'provider'>[];
}

const averages = (row: SignalRow | undefined) => ({
  ttfbMs: row?.ttfbMs?.value ?? null,
  tokensPerSecond: row?.tokensPerSecond?.value ?? null,
  errorRate: row?.errorRate?.value ?? null,
  refusalRate: row?.refusalRate?.value ?? null,
});

/** One provider's signals, from the KeyHealth object's rows and points and the digests of its vault keys. */
export function providerSignals(providerId: string, keyIds: string[], rows: Map<string, SignalRow>, points: SignalPoint[]): ProviderSignals {
  const own = rows.get(`${providerId}\n`);
  const at = [own?.ttfbMs?.at, own?.errorRate?.at, own?.tokensPerSecond?.at].filter((t): t is number => t !== undefined);
  return {
    ...averages(own),
    updatedAt: at.length ? new Date(Math.max(...at)).toISOString() : null,
    keys: keyIds.flatMap((keyId, index) => {
      const row = rows.get(`${providerId}\n${keyId}`);
      return row ? [{ index, ...averages(row), headroom: row.headroom }] : [];
    }),
    points: points.filter((p) => p.provider === providerId).map(({ provider: _provider, ...point }) => point),
  };
}
