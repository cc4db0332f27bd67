/**
 * Upstream statuses after which the same request may be replayed with another key or provider:
 * auth failures (a revoked key), timeouts, rate limits and server errors. Other 4xx are the client's.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 401 || status === 403 || status === 408 || status === 429 || status >= 500;
}
