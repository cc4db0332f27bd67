import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { postJson } from '../helpers/env';
import { CHAT, completion, faultyUpstream, freshKeys, MESSAGES, multiKeyEnv } from '../helpers/upstreams';

// Key choice by headroom: the rate-limit headers of each answer decide which key the next request
// takes. A key short of tokens for the request goes after the keys with room; a key its provider
// called exhausted until T is not tried before T; with no headers, round-robin as before.

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** A request that may count 100 output tokens plus its body. */
const ASK = { ...CHAT, max_tokens: 100 };

const ok = (headers: Record<string, string>) => Response.json(completion(), { headers });

describe('key choice by headroom', () => {
  it('without headroom headers, round-robin as before', async () => {
    const keys = freshKeys('gsk', 2);
    const env = await multiKeyEnv({ groq: keys });
    const calls = faultyUpstream(() => ok({}));
    for (let i = 0; i < 4; i++) expect((await app.request('/groq/v1/chat/completions', postJson(ASK), env)).status).toBe(200);
    const used = calls.map((c) => c.key);
    expect(used[0]).not.toBe(used[1]);
    expect(used.slice(2)).toEqual(used.slice(0, 2));
  });

  it('a key with fewer tokens left than the request may count goes after the keys with room', async () => {
    const [small, big] = freshKeys('gsk', 2) as [string, string];
    const env = await multiKeyEnv({ groq: [small, big] });
    const calls = faultyUpstream((call) =>
      ok(call.key === small ? { 'x-ratelimit-remaining-tokens': '60', 'x-ratelimit-reset-tokens': '59s' } : { 'x-ratelimit-remaining-tokens': '90000' }),
    );
    for (let i = 0; i < 6; i++) expect((await app.request('/groq/v1/chat/completions', postJson(ASK), env)).status).toBe(200);
    // Round-robin reaches the small key within two requests; once it said 60 tokens, it is passed over.
    const firstSmall = calls.findIndex((c) => c.key === small);
    expect(firstSmall).toBeLessThan(2);
    expect(calls.filter((c) => c.key === small)).toHaveLength(1);
    // A request small enough for what is left may still take it.
    expect((await app.request('/groq/v1/chat/completions', postJson({ ...CHAT, max_tokens: 5 }), env)).status).toBe(200);
    expect(calls.at(-1)!.key).toBe(small);
  });

  it('when every key is short, the request still goes (the estimate may be pessimistic)', async () => {
    const [key] = freshKeys('gsk', 1) as [string];
    const env = await multiKeyEnv({ groq: [key] });
    const calls = faultyUpstream(() => ok({ 'x-ratelimit-remaining-tokens': '10', 'x-ratelimit-reset-tokens': '30s' }));
    expect((await app.request('/groq/v1/chat/completions', postJson(ASK), env)).status).toBe(200);
    expect((await app.request('/groq/v1/chat/completions', postJson(ASK), env)).status).toBe(200);
    expect(calls).toHaveLength(2);
  });

  it('a key its provider says is out of requests until T rests until T without being tried', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-06-01T12:00:00Z'));
    const [spent, other] = freshKeys('gsk', 2) as [string, string];
    const env = await multiKeyEnv({ groq: [spent, other] });
    const calls = faultyUpstream((call) => ok(call.key === spent ? { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '6m0s' } : {}));
    for (let i = 0; i < 5; i++) expect((await app.request('/groq/v1/chat/completions', postJson(ASK), env)).status).toBe(200);
    expect(calls.findIndex((c) => c.key === spent)).toBeLessThan(2);
    expect(calls.filter((c) => c.key === spent)).toHaveLength(1);
    vi.setSystemTime(new Date('2026-06-01T12:06:00Z'));
    for (let i = 0; i < 2; i++) expect((await app.request('/groq/v1/chat/completions', postJson(ASK), env)).status).toBe(200);
    expect(calls.slice(5).map((c) => c.key)).toContain(spent);
  });

  it("a provider's only key, exhausted until T: 503 with Retry-After, nothing sent", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-06-01T12:00:00Z'));
    const [key] = freshKeys('sk-ant', 1) as [string];
    const env = await multiKeyEnv({ anthropic: [key] });
    const calls = faultyUpstream(() =>
      Response.json(
        {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: 'claude-sonnet-4-5',
          content: [{ type: 'text', text: 'hi' }],
          stop_reason: 'end_turn',
          usage: { input_tokens: 3, output_tokens: 1 },
        },
        { headers: { 'anthropic-ratelimit-tokens-remaining': '0', 'anthropic-ratelimit-tokens-reset': '2026-06-01T12:00:30Z' } },
      ),
    );
    const headers = { 'x-api-key': 'sy-user-key-tester-0123456789', 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };
    expect((await app.request('/anthropic/v1/messages', { method: 'POST', headers, body: JSON.stringify(MESSAGES) }, env)).status).toBe(200);
    const refused = await app.request('/anthropic/v1/messages', { method: 'POST', headers, body: JSON.stringify(MESSAGES) }, env);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).toEqual({
      type: 'api_error',
      code: 'provider_keys_resting',
      message: 'every key of provider "anthropic" is resting after failures or out of its rate limit; retry in 30 s',
    });
    expect(calls).toHaveLength(1);
  });
});
