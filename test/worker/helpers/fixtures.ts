// Vault fixtures made by the real `openssl enc` command (test/fixtures/vault/make-fixtures.sh), with the
// test project's AI_JSON_CRYPTOKEN unless the name says otherwise.
import plaintext from '../../fixtures/vault/ai.json?raw';
import wrapped from '../../fixtures/vault/ai.json.enc?raw';
import oneLine from '../../fixtures/vault/ai.json.oneline.enc?raw';
import otherToken from '../../fixtures/vault/ai.json.other-token.enc?raw';
import invalidConfig from '../../fixtures/vault/invalid-config.json.enc?raw';
import notJson from '../../fixtures/vault/not-json.enc?raw';

export const fixtures = {
  /** The plaintext AiConfig, with unknown fields at every level and non-ASCII text. */
  plaintext,
  /** `openssl enc … -a`: base64 in 64-column lines with a final newline. */
  wrapped,
  /** `openssl enc … -a -A`: base64 on one line, no newline. */
  oneLine,
  /** ai.json encrypted with the passphrase `another-token`. */
  otherToken,
  /** Valid JSON that is not an AiConfig (a provider without endpoint). */
  invalidConfig,
  /** Encrypted text that is not JSON. */
  notJson,
};

/** The 8-byte salt an openssl vault text carries after `Salted__`. */
export function saltOf(vaultText: string): Uint8Array<ArrayBuffer> {
  const bytes = Uint8Array.from(atob(vaultText.replace(/\s+/g, '')), (ch) => ch.charCodeAt(0));
  return bytes.slice(8, 16);
}
