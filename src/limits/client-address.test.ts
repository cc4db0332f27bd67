import { describe, expect, it } from 'vitest';
import { guardedNetwork } from './client-address';

describe('guardedNetwork', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:0000:0000:0000:0001', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['2001:db8:0:0:1::', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['2001:db8:abc:1:a:b:c:d', '2001:db8:abc:1::/64'],
    ['2001:db8:abc:1:0:0:0:ff', '2001:db8:abc:1::/64'],
    ['[2001:db8:1:2::5]', '2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['64:ff9b::198.51.100.7', '64:ff9b:0:0::/64'],
  ])('%s is counted as %s', (address, network) => {
    expect(guardedNetwork(address)).toBe(network);
  });

  it('keeps what is not an address as sent (never merges it with a real network)', () => {
    for (const odd of ['not-an-ip', '1:2:3', '1::2::3', '12345::1', ':::']) expect(guardedNetwork(odd)).toBe(odd);
  });
});
