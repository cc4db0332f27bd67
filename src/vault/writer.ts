import { DurableObject } from 'cloudflare:workers';
import type { Bindings } from '../env';
import { EMBEDDED_VAULT } from '../generated/embedded-vault';
import { digestText } from './crypto';
import { PREVIOUS_VAULT_KEY, VAULT_KEY } from './keys';

// The one writer of the vault in KV (one object, named VAULT_WRITER_NAME). A PUT that reads the
// current text, writes it to `:previous` and then writes the new text races another PUT doing the
// same: both keep the same previous text and one new text is lost. Here every write runs inside
// blockConcurrencyWhile, one after the other, each replacing the text the one before wrote, and the
// replaced texts are kept in the object's storage (the last VAULT_HISTORY_LENGTH) as well as under
// `:previous` in KV. As in UsersDirectory, the object keeps the text it wrote last with a revision
// (also the KV value's metadata), so a stale KV read never decides what is replaced; a KV value without
// metadata was written by hand (`wrangler kv key put`) and is the newest.

export const VAULT_WRITER_NAME = 'vault';
/** Replaced versions kept in the writer's storage, newest first. */
export const VAULT_HISTORY_LENGTH = 10;

interface Copy {
  revision: number;
  text: string;
}

export interface VaultVersion {
  /** SHA-256 (hex) of the text: the ETag GET /ai.json.enc sends for it. */
  digest: string;
  /** When it was replaced (ISO 8601). */
  replacedAt: string;
  text: string;
}

export type VaultWrite = { ok: true } | { ok: false; currentDigest: string | null };

export class VaultWriter extends DurableObject<Bindings> {
  /** The vault text now: KV's, unless KV still serves an older revision than this object wrote. */
  private async current(): Promise<string | null> {
    const [{ value, metadata }, copy] = await Promise.all([
      this.env.KV_AI_PROXY.getWithMetadata<{ revision?: number }>(VAULT_KEY),
      this.ctx.storage.get<Copy>('copy'),
    ]);
    const revision = metadata?.revision;
    if (copy && typeof revision === 'number' && revision < copy.revision) return copy.text;
    return value;
  }

  /**
   * Replace the vault with `text` (already validated by the caller), keeping the replaced text.
   * `ifMatch`: the digest the caller last read, or `*`; when it does not match, nothing is written.
   */
  async write(text: string, ifMatch: string | null): Promise<VaultWrite> {
    return this.ctx.blockConcurrencyWhile(async () => {
      const replaced = await this.current();
      if (ifMatch !== null) {
        const served = replaced ?? EMBEDDED_VAULT;
        const currentDigest = served === null ? null : await digestText(served);
        // `*` matches any current vault, and nothing while there is none (RFC 9110, If-Match).
        const matches = ifMatch === '*' ? currentDigest !== null : currentDigest === ifMatch;
        // Refused, not thrown: an exception inside blockConcurrencyWhile resets the object.
        if (!matches) return { ok: false, currentDigest };
      }
      const revision = ((await this.ctx.storage.get<Copy>('copy'))?.revision ?? 0) + 1;
      if (replaced !== null) {
        const version: VaultVersion = { digest: await digestText(replaced), replacedAt: new Date().toISOString(), text: replaced };
        await this.ctx.storage.put(`previous:${String(revision).padStart(12, '0')}`, version);
        const kept = await this.ctx.storage.list({ prefix: 'previous:', reverse: true });
        const expired = [...kept.keys()].slice(VAULT_HISTORY_LENGTH);
        if (expired.length) await this.ctx.storage.delete(expired);
        await this.env.KV_AI_PROXY.put(PREVIOUS_VAULT_KEY, replaced);
      }
      await this.env.KV_AI_PROXY.put(VAULT_KEY, text, { metadata: { revision } });
      await this.ctx.storage.put<Copy>('copy', { revision, text });
      return { ok: true };
    });
  }

  /** The replaced versions this object keeps, newest first. */
  async history(): Promise<VaultVersion[]> {
    const kept = await this.ctx.storage.list<VaultVersion>({ prefix: 'previous:', reverse: true });
    return [...kept.values()];
  }
}

export const vaultWriter = (env: Bindings) => env.VAULT_WRITER.get(env.VAULT_WRITER.idFromName(VAULT_WRITER_NAME));
