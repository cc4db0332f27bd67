import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEMO_VAULT_TOKEN } from '../../scripts/demo';
import { tokenWeakness } from './token-strength';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('tokenWeakness', () => {
  it.each(['abcdefghijklmnopqrstuvwxyz', 'qwertyuiopasdfghjkl', 'Summer2024Summer2024', 'P@ssw0rd!P@ssw0rd!', '1qaz2wsx3edc4rfv pass'])(
    'reports the common passphrase %s as weak',
    async (token) => {
      expect(await tokenWeakness(token)).toEqual({ guessesLog10: expect.any(Number), warning: expect.toBeOneOf([expect.any(String), null]) });
    },
  );

  it("reports the demo's token and the tests' token as weak (words anyone can read in this project)", async () => {
    expect(await tokenWeakness(DEMO_VAULT_TOKEN)).not.toBeNull();
    expect(await tokenWeakness('test-vault-token')).not.toBeNull();
  });

  it('reports an 8-character random token as weak', async () => {
    expect(await tokenWeakness('x7Kq9pLm')).toEqual({ guessesLog10: 8, warning: null });
  });

  it('does not report 32 random base64url characters', async () => {
    const random = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))))
      .replaceAll('+', '-')
      .replaceAll('/', '_');
    expect(random).toHaveLength(32);
    expect(await tokenWeakness(random)).toBeNull();
  });

  it('checks a token once per isolate', async () => {
    const check = vi.spyOn(ZxcvbnFactory.prototype, 'check');
    const token = 'checked-once-Summer2024';
    const first = await tokenWeakness(token);
    expect(await Promise.all([tokenWeakness(token), tokenWeakness(token)])).toEqual([first, first]);
    expect(check).toHaveBeenCalledTimes(1);
  });
});
