import { env as testEnv } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { keyIdOf } from '../../../src/forward/key-health';
import { KEY_HEALTH_NAME } from '../../../src/limits/key-health';
import { postJson } from '../helpers/env';
import { CHAT, completion, faultyUpstream, freshKeys, multiKeyEnv, openaiError } from '../helpers/upstreams';

// What the key alerts are made from: a key out of credit (402) is, like a revoked one (401), a key the
// provider rejects. The request goes on with the next key, the key rests, and its failure reaches the
// KeyHealth object (whose ProviderWatch turns it into a `key_rejected` alert) with its status.

afterEach(() => vi.restoreAllMocks());

const keyHealth = () => testEnv.KEY_HEALTH.get(testEnv.KEY_HEALTH.idFromName(KEY_HEALTH_NAME));

describe('a key out of credit (402)', () => {
  it('fails over to the next key, rests, and is reported to KeyHealth with its status', async () => {
    const keys = freshKeys('gsk', 2);
    const env = await multiKeyEnv({ groq: keys });
    const broke = keys[0]!;
    const calls = faultyUpstream((call) => (call.key === broke ? openaiError(402, {}, 'Insufficient credits') : Response.json(completion())));
    for (let i = 0; i < 4; i++) {
      const res = await app.request('/groq/v1/chat/completions', postJson(CHAT), env);
      expect(res.status).toBe(200);
    }
    expect(calls.filter((c) => c.key === broke)).toHaveLength(1);

    const keyId = await keyIdOf(broke);
    let row;
    for (let i = 0; i < 50 && !row; i++) {
      row = (await keyHealth().snapshot()).find((r) => r.provider === 'groq' && r.keyId === keyId);
      if (!row) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(row).toMatchObject({ lastStatus: 402, lastReason: 'http_402' });
    // A rejected key rests long (30–60 s the first time), unlike a 5xx (a quarter of a second).
    expect(row!.until).toBeGreaterThan(Date.now() + 20_000);
  });
});
