// How guessable the vault passphrase is. Whoever holds the ciphertext can guess it offline (100 000
// PBKDF2 rounds per guess), and without ADMIN_TOKEN it is also the operator's bearer token, so a weak
// one is reported: once in the log, and as a flag on the operator's /healthz.

/** Fewer characters than this is short whatever they are. */
const MIN_LENGTH = 16;
/** Estimated bits below which a passphrase is low-entropy (a random 16-character base64 string has 96). */
const MIN_BITS = 64;

/** Passphrases and fragments at the top of every guessing list. */
const COMMON = [
  'password',
  'passw0rd',
  'secret',
  'changeme',
  'change-me',
  'letmein',
  'welcome',
  'admin',
  'default',
  'qwerty',
  'azerty',
  'iloveyou',
  'dragon',
  'monkey',
  'master',
  'example',
  'test',
  'demo',
  'token',
  'vault',
  'switchyard',
  'cloudflare',
  '123456',
  '12345678',
  'abcdef',
  'abc123',
];

/** Bits per character of the character classes a passphrase draws from. */
function poolBits(token: string): number {
  let pool = 0;
  if (/[a-z]/.test(token)) pool += 26;
  if (/[A-Z]/.test(token)) pool += 26;
  if (/[0-9]/.test(token)) pool += 10;
  if (/[^A-Za-z0-9]/.test(token)) pool += 33;
  return Math.log2(Math.max(pool, 2));
}

/** A conservative entropy estimate: runs and repeats count once, distinct characters bound the rest. */
function estimatedBits(token: string): number {
  const squeezed = token.replace(/(.)\1+/g, '$1');
  const distinct = new Set(token).size;
  return Math.min(squeezed.length, distinct * 2) * poolBits(token);
}

/**
 * Why a vault passphrase is weak (`short`, `common`, `low-entropy`), or undefined when it is not.
 * Pure: used for the log line at start and by the operator's /healthz.
 */
export function vaultTokenWeakness(token: string): 'short' | 'common' | 'low-entropy' | undefined {
  if (token.length < MIN_LENGTH) return 'short';
  // Made of common words: what is left once they are taken out is too little to guess.
  const rest = COMMON.reduce((text, word) => text.replaceAll(word, ''), token.toLowerCase().replace(/[^a-z0-9]/g, ''));
  if (rest.length < 8) return 'common';
  return estimatedBits(token) < MIN_BITS ? 'low-entropy' : undefined;
}
