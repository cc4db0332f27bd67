import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { isUsable } from '../../../src/providers/lookup';
import { listIds, makeEnv, postJson } from '../helpers/env';
import { forbidUpstream } from '../helpers/fetch';
import { mockProviders } from '../helpers/stand-in';
import { testConfig } from '../helpers/vault';

// Key choice: round-robin over the usable keys (never random), expired keys never used.

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

let providerCount = 0;
/** A provider id no other test used: the round-robin cursor of this isolate starts fresh for it. */
const freshId = () => `rr-${++providerCount}-${Date.now().toString(36)}`;

function configWith(id: string, keys: object[]) {
  const config = testConfig();
  config.providers[id] = {
    protocol: 'openai',
    endpoint: 'https://api.groq.com/openai/v1',
    keys,
    models: [{ id: 'llama-3.3-70b-versatile' }],
  };
  return config;
}

const chat = { model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'hi' }] };
const usedKey = (call: { headers: Headers }) => call.headers.get('authorization')!.replace(/^Bearer /, '');

describe('round-robin over usable keys', () => {
  it('consecutive requests take the usable keys in turn, skipping expired ones', async () => {
    const { calls } = mockProviders();
    const id = freshId();
    const env = await makeEnv({
      config: configWith(id, [
        { key: 'key-a', type: 'paid' },
        { key: 'key-dead-type', type: 'expired' },
        { key: 'key-b', type: 'free' },
        { key: 'key-dead-date', type: 'paid', expiresAt: '2001-01-01T00:00:00Z' },
        { key: 'key-c', expiresAt: '2999-01-01T00:00:00Z' },
      ]),
    });
    for (let i = 0; i < 7; i++) {
      expect((await app.request(`/${id}/v1/chat/completions`, postJson(chat), env)).status).toBe(200);
    }
    expect(calls.map(usedKey)).toEqual(['key-a', 'key-b', 'key-c', 'key-a', 'key-b', 'key-c', 'key-a']);
  });

  it('a key stops being used the moment its expiresAt passes', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-05-01T11:59:00Z'));
    const { calls } = mockProviders();
    const id = freshId();
    const env = await makeEnv({
      config: configWith(id, [{ key: 'key-until-noon', expiresAt: '2026-05-01T12:00:00Z' }, { key: 'key-forever' }]),
    });
    const send = () => app.request(`/${id}/v1/chat/completions`, postJson(chat), env);
    await send();
    await send();
    expect(calls.map(usedKey).sort()).toEqual(['key-forever', 'key-until-noon']);

    vi.setSystemTime(new Date('2026-05-01T12:00:00Z'));
    calls.length = 0;
    for (let i = 0; i < 4; i++) await send();
    expect(calls.map(usedKey)).toEqual(['key-forever', 'key-forever', 'key-forever', 'key-forever']);
  });

  it('isUsable: type "expired" and a past expiresAt retire a key; other types are labels', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(isUsable({ key: 'k', type: 'expired' }, now)).toBe(false);
    expect(isUsable({ key: 'k', expiresAt: '2025-12-31T23:59:59Z' }, now)).toBe(false);
    expect(isUsable({ key: 'k', expiresAt: '2026-01-01T00:00:00Z' }, now)).toBe(false);
    for (const type of ['free', 'paid', 'premium', 'unlimited', undefined]) {
      expect(isUsable({ key: 'k', type, expiresAt: '2026-01-01T00:00:01Z' }, now)).toBe(true);
    }
  });
});

describe('a provider without a usable key', () => {
  it.each([
    [
      'all keys expired',
      [
        { key: 'key-x', type: 'expired' },
        { key: 'key-y', expiresAt: '2020-02-02T00:00:00Z' },
      ],
    ],
    ['no keys at all', []],
  ])('%s: absent from /v1/providers, and a 503 that says why, with no upstream call', async (_, keys) => {
    const { calls } = forbidUpstream();
    const id = freshId();
    const env = await makeEnv({ config: configWith(id, keys) });
    const listed = await listIds(app.request('/v1/providers', { headers: postJson({}).headers }, env));
    expect(listed).not.toContain(id);
    expect(listed).toContain('groq');

    const res = await app.request(`/${id}/v1/chat/completions`, postJson(chat), env);
    expect(res.status).toBe(503);
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({
      error: {
        message: `provider "${id}" has no usable key (all are expired or marked expired)`,
        type: 'api_error',
        code: 'no_usable_key',
      },
    });
    expect(body).not.toContain('key-x');
    expect(calls).toHaveLength(0);
  });
});
