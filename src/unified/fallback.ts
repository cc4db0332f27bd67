import { isRetryableStatus } from '../forward/retry';
import type { Bindings } from '../env';
import { logEvent } from '../log';
import { GatewayError } from '../errors';
import { settingsOf } from '../limits/settings';
import type { Candidate } from './candidates';
import { ROUTE_HEADER, routeOrder } from './routing';

/** send() throws these when a provider gave no usable answer: the next candidate may. */
const NEXT_CANDIDATE_ERRORS = new Set([502, 503, 504]);

/** One candidate's answer; `translated` is what the route needs to translate it back, when it must. */
export interface Attempt<Translated = never> {
  response: Response;
  translated?: Translated;
}

export type Served<T> = T & { candidate: Candidate };

/**
 * Try the candidates in the order of their model route (routing.ts). A retryable failure (send()
 * throwing 502/503/504, or an upstream status that isRetryableStatus) moves on to the next; any other
 * answer is final. When every candidate failed, or the request's attempt budget is spent, the last
 * failure is the answer. The answer says in X-Switchyard-Route why its provider was chosen.
 */
export async function firstServed<T extends { response: Response }>(
  chain: Candidate[],
  attempt: (candidate: Candidate) => Promise<T>,
  log: { env: Bindings; requestId?: string; budget?: { left: number }; routeKey?: string },
): Promise<Served<T>> {
  const { candidates, reason } = routeOrder(chain, log.routeKey ?? log.requestId ?? '', settingsOf(log.env).SIGNAL_WINDOW_MS);
  const passed: string[] = [];
  for (let i = 0; ; i++) {
    const candidate = candidates[i]!;
    const isLast = () => i === candidates.length - 1 || (log.budget !== undefined && log.budget.left <= 0);
    let status: number;
    try {
      const served = await attempt(candidate);
      status = served.response.status;
      if (isLast() || !isRetryableStatus(status)) {
        served.response.headers.set(ROUTE_HEADER, passed.length === 0 ? reason : `fallback after ${passed.join(', ')}`);
        return { ...served, candidate };
      }
      await served.response.body?.cancel();
    } catch (err) {
      if (isLast() || !(err instanceof GatewayError) || !NEXT_CANDIDATE_ERRORS.has(err.status)) throw err;
      status = err.status;
    }
    passed.push(`${candidate.providerId} ${status}`);
    logEvent(log.env, 'info', {
      requestId: log.requestId,
      event: 'fallback',
      from: candidate.providerId,
      to: candidates[i + 1]!.providerId,
      status,
    });
  }
}
