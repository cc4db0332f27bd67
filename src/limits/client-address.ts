import { ipv6Groups } from '../ip';

// The failed-authentication guard counts per client network, not per exact address: one IPv6
// subscriber is usually given a whole /64, so rotating addresses inside it must not reset the count.

/**
 * The name the guard counts an address under: an IPv4 address as it is, an IPv6 address as its /64
 * (`2001:db8:1:2::/64`, canonical lower-case hex), an IPv4-mapped IPv6 address as its IPv4 address.
 * Anything else is kept as sent.
 */
export function guardedNetwork(address: string): string {
  const trimmed = address.trim();
  if (!trimmed.includes(':')) return trimmed;
  const groups = ipv6Groups(trimmed.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  if (!groups) return trimmed;
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}
