import type { ZxcvbnFactory } from '@zxcvbn-ts/core';
import type { Bindings } from '../env';
import { logEvent } from '../log';

// How guessable the operator's secrets are. Whoever holds the vault's ciphertext can guess
// AI_JSON_CRYPTOKEN offline (100 000 PBKDF2 rounds per guess); ADMIN_TOKEN is guessed online, behind
// the failed-login guard. zxcvbn (@zxcvbn-ts, common and English dictionaries) estimates the guesses.
// Its dictionaries are about 1.6 MB and take about half a second of CPU to unpack and index, so they are
// loaded the first time a check runs (a dynamic import: the bundle carries them, unevaluated), each
// secret is checked once per isolate, and only the operator's /healthz and the daily cron ask: a user's
// request never pays for it.

/** Fewer estimated guesses than 10^14 is weak: 10^14 guesses is decades of a GPU at 100 000 PBKDF2 rounds each. */
const MIN_GUESSES_LOG10 = 14;

/** Words an attacker of this gateway tries first (zxcvbn's user inputs): the project's and the docs' own. */
const GATEWAY_WORDS = ['switchyard', 'vault', 'token', 'demo', 'test', 'admin', 'operator', 'gateway', 'cloudflare', 'passphrase', 'secret'];

export interface TokenWeakness {
  /** log10 of the guesses zxcvbn estimates, one decimal. */
  guessesLog10: number;
  /** zxcvbn's warning key (`sequences`, `extendedRepeat`, `similarToCommon`, …), or null. */
  warning: string | null;
}

// Values, never promises (docs/architecture.md, "Per-isolate caches").
let estimator: ZxcvbnFactory | undefined;
const checked = new Map<string, TokenWeakness | null>();

// English: common words, first names and word sequences, not the package's whole index: its last
// names and Wikipedia lists would add ~380 KB gzipped to every isolate's script for passphrases that
// common words and passwords already find weak (the cases in token-strength.test.ts).
async function loadEstimator(): Promise<ZxcvbnFactory> {
  const [{ ZxcvbnFactory }, common, commonWords, firstnames, wordSequences] = await Promise.all([
    import('@zxcvbn-ts/core'),
    import('@zxcvbn-ts/language-common'),
    import('@zxcvbn-ts/language-en/dist/commonWords.json.mjs'),
    import('@zxcvbn-ts/language-en/dist/firstnames.json.mjs'),
    import('@zxcvbn-ts/language-en/dist/wordSequences.json.mjs'),
  ]);
  const en = { 'commonWords-en': commonWords.default, 'firstnames-en': firstnames.default, ...wordSequences.default };
  return (estimator ??= new ZxcvbnFactory({ dictionary: { ...common.dictionary, ...en }, graphs: common.adjacencyGraphs }));
}

/** How weak a secret of this deployment is (null: not weak). Only ever given the deployment's own secrets, never a request's. */
export async function tokenWeakness(token: string): Promise<TokenWeakness | null> {
  if (!checked.has(token)) {
    const zxcvbn = estimator ?? (await loadEstimator());
    // Another caller may have checked it while the dictionaries loaded.
    if (!checked.has(token)) {
      const { guessesLog10, feedback } = zxcvbn.check(token, GATEWAY_WORDS);
      checked.set(token, guessesLog10 < MIN_GUESSES_LOG10 ? { guessesLog10: Math.round(guessesLog10 * 10) / 10, warning: feedback.warning } : null);
    }
  }
  return checked.get(token) ?? null;
}

/** The secrets already logged, per event: a weak one is logged once per isolate. */
const logged = { vault_token_weak: new Set<string>(), admin_token_weak: new Set<string>() };

async function checkSecret(env: Bindings, event: keyof typeof logged, token: string | undefined): Promise<TokenWeakness | null> {
  if (!token) return null;
  const weakness = await tokenWeakness(token);
  if (weakness && !logged[event].has(token)) {
    logged[event].add(token);
    // `npm run dev`'s demo runs on its own published token: a newcomer's first screen gets no error for it.
    if (env.SWITCHYARD_DEMO === 'true' && event === 'vault_token_weak') {
      logEvent(env, 'info', { event: 'demo_vault_token', message: "the demo's own vault token: use a long random AI_JSON_CRYPTOKEN for your own vault" });
    } else {
      logEvent(env, 'error', { event, ...weakness, advice: 'use a long random AI_JSON_CRYPTOKEN and ADMIN_TOKEN' });
    }
  }
  return weakness;
}

/**
 * How weak the deployment's vault passphrase and ADMIN_TOKEN are (null: not weak, or unset). A weak
 * one is also logged, once per isolate (how weak, never the secret). Run by the operator's /healthz
 * and the daily cron, never by a user's request.
 */
export async function secretsWeakness(env: Bindings): Promise<{ vault: TokenWeakness | null; admin: TokenWeakness | null }> {
  const [vault, admin] = await Promise.all([
    checkSecret(env, 'vault_token_weak', env.AI_JSON_CRYPTOKEN),
    checkSecret(env, 'admin_token_weak', env.ADMIN_TOKEN),
  ]);
  return { vault, admin };
}
