import { describe, expect, it } from 'vitest';
import { decryptVault, digestText, encryptVault, VaultCryptoError, wrapBase64 } from './crypto';
import { fixtures, saltOf } from '../../test/worker/helpers/fixtures';
import { VAULT_TOKEN } from '../../test/worker/helpers/vault';

// The vault format against texts written by the real `openssl enc -aes-256-cbc -a -pbkdf2 -iter 100000 -salt`.

async function failure(promise: Promise<unknown>): Promise<VaultCryptoError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VaultCryptoError);
  return err as VaultCryptoError;
}

describe('decrypting what openssl wrote', () => {
  it('decrypts the 64-column text openssl -a writes, to the exact plaintext bytes', async () => {
    expect(await decryptVault(fixtures.wrapped, VAULT_TOKEN)).toBe(fixtures.plaintext);
  });

  it('decrypts the one-line text of openssl -a -A (no line breaks, no final newline)', async () => {
    expect(fixtures.oneLine).not.toContain('\n');
    expect(await decryptVault(fixtures.oneLine, VAULT_TOKEN)).toBe(fixtures.plaintext);
  });

  it('decrypts text with CRLF line ends and surrounding blank space', async () => {
    const crlf = `\r\n  ${fixtures.wrapped.replace(/\n/g, '\r\n')}\r\n\r\n`;
    expect(await decryptVault(crlf, VAULT_TOKEN)).toBe(fixtures.plaintext);
  });

  it('keeps non-ASCII text intact (UTF-8)', async () => {
    expect(await decryptVault(fixtures.wrapped, VAULT_TOKEN)).toContain('"owner": "Rónán"');
  });
});

describe('writing what openssl reads', () => {
  it('reproduces the openssl text byte for byte given the same salt (same bytes, same 64-column lines, final newline)', async () => {
    const written = await encryptVault(fixtures.plaintext, VAULT_TOKEN, { salt: saltOf(fixtures.wrapped) });
    expect(written).toBe(fixtures.wrapped);
  });

  it('reproduces the other fixtures too (another salt, another passphrase)', async () => {
    const written = await encryptVault(fixtures.plaintext, 'another-token', { salt: saltOf(fixtures.otherToken) });
    expect(written).toBe(fixtures.otherToken);
  });

  it('starts with the base64 of "Salted__", uses a fresh random salt each time, and round-trips', async () => {
    const a = await encryptVault('{"providers":{}}', VAULT_TOKEN);
    const b = await encryptVault('{"providers":{}}', VAULT_TOKEN);
    expect(a.startsWith('U2FsdGVkX1')).toBe(true);
    expect(saltOf(a)).not.toEqual(saltOf(b));
    expect(a).not.toBe(b);
    expect(await decryptVault(a, VAULT_TOKEN)).toBe('{"providers":{}}');
  });

  it('wraps every line at 64 characters, the last one shorter or equal, with one final newline', async () => {
    for (const size of [0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 49, 100, 1000]) {
      const text = await encryptVault('x'.repeat(size), VAULT_TOKEN, { iterations: 1 });
      expect(text.endsWith('\n')).toBe(true);
      expect(text.endsWith('\n\n')).toBe(false);
      const lines = text.slice(0, -1).split('\n');
      for (const line of lines.slice(0, -1)) expect(line).toHaveLength(64);
      expect(lines.at(-1)!.length).toBeGreaterThan(0);
      expect(lines.at(-1)!.length).toBeLessThanOrEqual(64);
      expect(await decryptVault(text, VAULT_TOKEN, { iterations: 1 })).toBe('x'.repeat(size));
    }
  });

  it('wrapBase64 of exactly 48 bytes is one full 64-column line plus the newline', () => {
    const text = wrapBase64(new Uint8Array(48));
    expect(text).toBe(`${'A'.repeat(64)}\n`);
    expect(wrapBase64(new Uint8Array(49))).toBe(`${'A'.repeat(64)}\nAA==\n`);
  });
});

describe('refusals, each with its reason', () => {
  it('wrong passphrase', async () => {
    const err = await failure(decryptVault(fixtures.wrapped, 'not-the-token'));
    expect(err.reason).toBe('wrong-passphrase');
    expect(err.message).toMatch(/does not decrypt/);
  });

  it('a fixture encrypted with another passphrase does not open with the test token', async () => {
    expect((await failure(decryptVault(fixtures.otherToken, VAULT_TOKEN))).reason).toBe('wrong-passphrase');
    expect(await decryptVault(fixtures.otherToken, 'another-token')).toBe(fixtures.plaintext);
  });

  it('not base64', async () => {
    for (const text of ['{"version":1,"providers":{}}', 'U2Fsd GVkX1!!', '', '   \n', 'abcde']) {
      expect((await failure(decryptVault(text, VAULT_TOKEN))).reason).toBe('not-base64');
    }
  });

  it('base64 without the Salted__ magic', async () => {
    const noMagic = btoa('Pickled_12345678' + 'x'.repeat(32));
    expect((await failure(decryptVault(noMagic, VAULT_TOKEN))).reason).toBe('not-salted');
    const tooShort = btoa('Salted__12345678');
    expect((await failure(decryptVault(tooShort, VAULT_TOKEN))).reason).toBe('not-salted');
  });

  it('a truncated ciphertext is refused, not half-decrypted', async () => {
    const compact = fixtures.oneLine;
    const truncated = btoa(atob(compact).slice(0, -5));
    expect((await failure(decryptVault(truncated, VAULT_TOKEN))).reason).toBe('wrong-passphrase');
  });

  it('error messages never contain the passphrase or plaintext', async () => {
    const err = await failure(decryptVault(fixtures.wrapped, 'secret-pass-phrase'));
    expect(err.message).not.toContain('secret-pass-phrase');
    expect(err.message).not.toContain('gsk_');
  });
});

it('digestText is the hex SHA-256 of the text', async () => {
  expect(await digestText('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});
