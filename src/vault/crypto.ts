import { bytesToBase64 } from '../base64';
// The vault's on-disk format, byte-compatible with
//   openssl enc -aes-256-cbc -a -pbkdf2 -iter 100000 -salt
// (OpenSSL 3 defaults: PBKDF2-HMAC-SHA256, "Salted__" + 8-byte salt, 48 derived bytes = key + IV).
// WebCrypto only, so the same module runs in the Worker, in Node scripts and in the browser.

export const PBKDF2_ITERATIONS = 100_000;
const MAGIC = new TextEncoder().encode('Salted__');
const SALT_BYTES = 8;

export type VaultErrorReason = 'not-base64' | 'not-salted' | 'wrong-passphrase';

export class VaultCryptoError extends Error {
  constructor(
    readonly reason: VaultErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'VaultCryptoError';
  }
}

async function deriveKeyAndIv(passphrase: string, salt: Uint8Array<ArrayBuffer>, iterations: number) {
  const material = await crypto.subtle.importKey('raw', new TextEncoder().encode(passphrase), 'PBKDF2', false, ['deriveBits']);
  const bits = new Uint8Array(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, material, 48 * 8));
  const key = await crypto.subtle.importKey('raw', bits.slice(0, 32), 'AES-CBC', false, ['encrypt', 'decrypt']);
  return { key, iv: bits.slice(32, 48) };
}

function fromBase64(text: string): Uint8Array {
  const compact = text.replace(/\s+/g, '');
  if (compact.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    throw new VaultCryptoError('not-base64', 'vault text is not base64');
  }
  try {
    return Uint8Array.from(atob(compact), (ch) => ch.charCodeAt(0));
  } catch {
    throw new VaultCryptoError('not-base64', 'vault text is not base64');
  }
}

/** Base64 wrapped at 64 columns with a final newline, exactly as `openssl enc -a` writes it. */
export function wrapBase64(bytes: Uint8Array): string {
  const flat = bytesToBase64(bytes);
  const lines: string[] = [];
  for (let i = 0; i < flat.length; i += 64) lines.push(flat.slice(i, i + 64));
  return lines.join('\n') + '\n';
}

export async function encryptVault(
  plaintext: string,
  passphrase: string,
  options: { salt?: Uint8Array<ArrayBuffer>; iterations?: number } = {},
): Promise<string> {
  const salt = options.salt ?? crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const { key, iv } = await deriveKeyAndIv(passphrase, salt, options.iterations ?? PBKDF2_ITERATIONS);
  const cipher = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-CBC', iv }, key, new TextEncoder().encode(plaintext)));
  const out = new Uint8Array(MAGIC.length + SALT_BYTES + cipher.length);
  out.set(MAGIC, 0);
  out.set(salt, MAGIC.length);
  out.set(cipher, MAGIC.length + SALT_BYTES);
  return wrapBase64(out);
}

export async function decryptVault(text: string, passphrase: string, options: { iterations?: number } = {}): Promise<string> {
  const bytes = fromBase64(text);
  const header = bytes.subarray(0, MAGIC.length);
  if (bytes.length < MAGIC.length + SALT_BYTES + 16 || !header.every((b, i) => b === MAGIC[i])) {
    throw new VaultCryptoError('not-salted', 'vault text lacks the openssl "Salted__" header');
  }
  const salt = bytes.slice(MAGIC.length, MAGIC.length + SALT_BYTES);
  const { key, iv } = await deriveKeyAndIv(passphrase, salt, options.iterations ?? PBKDF2_ITERATIONS);
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt({ name: 'AES-CBC', iv }, key, bytes.slice(MAGIC.length + SALT_BYTES));
  } catch {
    throw new VaultCryptoError('wrong-passphrase', 'vault does not decrypt with this token (wrong token or corrupt text)');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(plain);
  } catch {
    throw new VaultCryptoError('wrong-passphrase', 'vault does not decrypt with this token (wrong token or corrupt text)');
  }
}

const HEX_BYTES = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** Hex SHA-256 of a text (every user lookup hashes the presented key: a table, not 32 formatted numbers). */
export async function digestText(text: string): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  let hex = '';
  for (const byte of hash) hex += HEX_BYTES[byte];
  return hex;
}
