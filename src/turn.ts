// A later turn of the event loop, as a promise. Two things the bench found in workerd, where the
// gateway's Durable Objects and cache run in the gateway's own process:
// - an answer made of in-process work only (a cache hit: the meter object, the cache) comes back
//   before the loop has read the other connections; once workerd is saturated it keeps serving the
//   connections answered at once and leaves other requests unread for up to 1.5 s. A timer turn
//   before such an answer lets it read them (c=32 hits: p99 450–710 ms → ~110 ms, as uncached).
// - a call that writes a Durable Object's storage, still in flight as a handler returns its Response,
//   holds back the requests not yet dispatched (by 0.1–0.7 s even at c=4); one started after the
//   return costs nothing.

/** Resolves on a later turn of the event loop: after the running handler has returned, and after pending I/O was read. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
