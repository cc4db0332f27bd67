// The vault's KV keys, apart from the Durable Object that writes them: scripts and the bench, which
// run in Node, seed a vault without loading `cloudflare:workers`.

export const VAULT_KEY = 'vault:ai.json.enc';
export const PREVIOUS_VAULT_KEY = 'vault:ai.json.enc:previous';
