import { run } from './run';

// The real `openssl` command, with the exact flags of the vault format (CONTRACTS.md). The passphrase
// travels in an environment variable (`-pass env:`), never on a command line other processes can read.

const PASS_VAR = 'SWITCHYARD_VAULT_PASS';
const VAULT_FLAGS = ['enc', '-aes-256-cbc', '-a', '-pbkdf2', '-iter', '100000'];

async function openssl(extra: string[], input: string, pass: string): Promise<string> {
  const result = await run('openssl', [...VAULT_FLAGS, ...extra, '-pass', `env:${PASS_VAR}`], {
    input,
    env: { ...process.env, [PASS_VAR]: pass },
  });
  if (result.code !== 0) throw new Error(`openssl ${extra.join(' ')} failed (exit ${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}

/** `openssl enc -aes-256-cbc -a -pbkdf2 -iter 100000 -salt`: base64 wrapped at 64 columns, final newline. */
export const encryptWithOpenssl = (plaintext: string, pass: string) => openssl(['-salt'], plaintext, pass);

/** `openssl enc -d -aes-256-cbc -a -pbkdf2 -iter 100000`; rejects when the text does not decrypt with `pass`. */
export const decryptWithOpenssl = (text: string, pass: string) => openssl(['-d'], text.endsWith('\n') ? text : `${text}\n`, pass);
