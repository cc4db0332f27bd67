// Stands in for src/generated/embedded-vault.ts in worker tests (see vitest.config.mts).
export let EMBEDDED_VAULT: string | null = null;

/** Set the vault the worker falls back to while KV holds none. */
export function embedVault(text: string | null) {
  EMBEDDED_VAULT = text;
}
