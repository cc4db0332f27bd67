// Header hygiene between client and upstream, in both directions.

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Client headers that never go upstream: credentials, client identity, routing and transport. */
const NEVER_UPSTREAM = new Set([
  ...HOP_BY_HOP,
  'authorization',
  'x-api-key',
  'x-goog-api-key',
  'cookie',
  'host',
  'content-length',
  'accept-encoding',
  'origin',
  'referer',
  'forwarded',
  'x-real-ip',
  'x-host-final',
  'true-client-ip',
]);

// x-switchyard-: the gateway's own request headers (X-Switchyard-Cache-Ttl) are for the gateway.
const NEVER_UPSTREAM_PREFIXES = ['cf-', 'x-forwarded-', 'sec-', 'x-switchyard-'];

/** The client's headers that may travel upstream, plus the target's own (auth) headers. */
export function upstreamHeaders(incoming: Headers, targetHeaders: Record<string, string>): Headers {
  const out = new Headers();
  incoming.forEach((value, name) => {
    if (NEVER_UPSTREAM.has(name) || NEVER_UPSTREAM_PREFIXES.some((p) => name.startsWith(p))) return;
    out.set(name, value);
  });
  for (const [name, value] of Object.entries(targetHeaders)) out.set(name, value);
  return out;
}

/** Upstream response headers a client may see: hop-by-hop and cookies are dropped. */
export function downstreamHeaders(upstream: Headers): Headers {
  const out = new Headers();
  upstream.forEach((value, name) => {
    if (HOP_BY_HOP.has(name) || name === 'set-cookie' || name === 'content-length') return;
    out.append(name, value);
  });
  return out;
}
