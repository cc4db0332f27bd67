import type { Bindings } from '../env';
import type { Provider } from '../vault/schema';
import { upstreamHeaders } from './headers';
import { buildTarget } from './target';

// Whose fault is a 403? A client can cause one with what it sends (a model, a file or a beta feature
// the account may not use, a region), and a key rested for that would go offline for every user. So a
// key is blamed for a 403 only when a call the client had no part in (GET models with that key) is
// refused too. (A 401 is the credential's: the client can no longer send anything that authenticates.)

/** How long a key that passed the check is not checked again: a 403 within this time is the request's own. */
const TRUSTED_MS = 10_000;
/** Longest wait for the check's answer; without one, the key is not blamed. */
const CHECK_TIMEOUT_MS = 5_000;

const checkedAt = new Map<string, number>();
const id = (providerId: string, key: string) => `${providerId}\n${key}`;

export interface KeyCheck {
  providerId: string;
  provider: Provider;
  key: string;
  env: Bindings;
  signal?: AbortSignal;
}

/**
 * After a 403: whether the key itself is refused. Checked with GET models, which names no model
 * and carries nothing from the client; anything but a 401/403 there (an answer, a 404, a timeout)
 * clears the key.
 */
export async function keyIsRefused(check: KeyCheck): Promise<boolean> {
  const at = checkedAt.get(id(check.providerId, check.key));
  if (at !== undefined && Date.now() - at < TRUSTED_MS) return false;
  const target = buildTarget({ ...check, operation: 'models', search: '', incoming: new Headers() });
  const signals = [AbortSignal.timeout(CHECK_TIMEOUT_MS), ...(check.signal ? [check.signal] : [])];
  try {
    const res = await fetch(target.url, { method: 'GET', headers: upstreamHeaders(new Headers(), target.headers), signal: AbortSignal.any(signals) });
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403) return true;
    if (res.ok) checkedAt.set(id(check.providerId, check.key), Date.now());
    return false;
  } catch {
    return false;
  }
}
