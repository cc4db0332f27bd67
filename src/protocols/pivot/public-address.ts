import { ipv4Number, ipv6Groups } from '../../ip';

// Whether a URL the gateway is asked to fetch (an image for Gemini) points at the public internet.
// Workers have no DNS API: IP literals are checked against the special-purpose ranges, and host names
// that only ever name private machines (localhost, *.internal, *.local, single labels…) are refused.
// A public name that resolves to a private address cannot be caught here; on Cloudflare's network a
// Worker's fetch does not reach private networks, under `wrangler dev` it can (README "Security").

/** IPv4 ranges that are not public unicast (RFC 6890 and its updates). */
const PRIVATE_V4: [number, number][] = (
  [
    ['0.0.0.0', 8], // "this network"
    ['10.0.0.0', 8], // private
    ['100.64.0.0', 10], // carrier-grade NAT
    ['127.0.0.0', 8], // loopback
    ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
    ['172.16.0.0', 12], // private
    ['192.0.0.0', 24], // IETF protocol assignments
    ['192.0.2.0', 24], // documentation
    ['192.88.99.0', 24], // 6to4 relay anycast
    ['192.168.0.0', 16], // private
    ['198.18.0.0', 15], // benchmarking
    ['198.51.100.0', 24], // documentation
    ['203.0.113.0', 24], // documentation
    ['224.0.0.0', 4], // multicast
    ['240.0.0.0', 4], // reserved, broadcast
  ] as const
).map(([base, bits]) => [ipv4Number(base)!, bits]);

const v4IsPublic = (address: number) => !PRIVATE_V4.some(([base, bits]) => Math.floor(address / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits)));

const embeddedV4 = (high: number, low: number) => high * 65536 + low;

function v6IsPublic(g: number[]): boolean {
  // Only global unicast (2000::/3) is public; inside it, Teredo (2001::/32) and documentation
  // (2001:db8::/32) are not, and 6to4 (2002::/16) is as public as the IPv4 address it carries.
  // Everything else (loopback, unspecified, v4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, unique local
  // fc00::/7, link-local fe80::/10, multicast ff00::/8…) is refused.
  if (g[0]! >> 13 !== 1) return false;
  if (g[0] === 0x2001 && (g[1] === 0 || g[1] === 0xdb8)) return false;
  if (g[0] === 0x2002) return v4IsPublic(embeddedV4(g[1]!, g[2]!));
  return true;
}

/** Host names that only ever name private or local machines. */
const PRIVATE_NAME = /(?:^|\.)(?:localhost|local|localdomain|internal|intranet|lan|home|corp|private|home\.arpa|in-addr\.arpa|ip6\.arpa|onion)$/;

/** Whether a URL's host may be fetched: an http(s) URL with a public host, no credentials, the default port. */
export function isPublicUrl(url: URL): boolean {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  if (url.username || url.password || url.port !== '') return false;
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  if (host.startsWith('[')) {
    const groups = ipv6Groups(host.slice(1, -1));
    return groups !== undefined && v6IsPublic(groups);
  }
  // The URL parser already turned decimal, octal and hex forms (2130706433, 0x7f.1) into dotted quads.
  const v4 = ipv4Number(host);
  if (v4 !== undefined) return v4IsPublic(v4);
  if (/^[\d.]+$/.test(host)) return false;
  return host.includes('.') && !PRIVATE_NAME.test(host);
}
