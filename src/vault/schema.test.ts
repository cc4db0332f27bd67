import { describe, expect, it } from 'vitest';
import { AiConfig, describeIssues, Users } from './schema';
import { fixtures } from '../../test/worker/helpers/fixtures';

describe('AiConfig schema', () => {
  it('keeps every field it does not know, at every level, exactly as stored', () => {
    const stored = JSON.parse(fixtures.plaintext);
    const parsed = AiConfig.parse(stored);
    expect(parsed).toEqual(stored);
    expect(parsed.comment).toBe('fixture vault for the worker tests; every key here is fake');
    expect(parsed.extensions).toEqual({ dashboard: { theme: 'dark' } });
    expect(parsed.providers.groq!.notes).toBe('unknown provider field, must survive');
    expect(parsed.providers.groq!.keys[0]!.label).toBe('unknown key field');
    expect(parsed.providers.groq!.models[0]!.vendorNote).toBe('kept');
  });

  it('a parse → stringify round trip drops nothing', () => {
    const stored = JSON.parse(fixtures.plaintext);
    expect(JSON.parse(JSON.stringify(AiConfig.parse(stored)))).toEqual(stored);
  });

  it('defaults missing keys and models to empty lists', () => {
    const parsed = AiConfig.parse({ providers: { x: { protocol: 'openai', endpoint: 'https://x.example/v1' } } });
    expect(parsed.providers.x!.keys).toEqual([]);
    expect(parsed.providers.x!.models).toEqual([]);
  });

  it('accepts the contract example (null tpmLimit, tags, owner, type)', () => {
    const example = {
      version: 1,
      providers: {
        groq: {
          protocol: 'openai',
          endpoint: 'https://api.groq.com/openai/v1',
          gatewayEndpoint: 'https://gateway.ai.cloudflare.com/v1/{account}/default/compat',
          gatewayModelPrefix: 'groq',
          keys: [{ key: 'gsk_x', owner: 'ronan', type: 'paid' }],
          models: [{ id: 'llama-3.3-70b-versatile', usage: 'chat', contextWindow: 8192, maxOutputTokens: 2048, tpmLimit: null, priority: 1, tags: ['fast'] }],
        },
      },
    };
    expect(AiConfig.safeParse(example).success).toBe(true);
  });

  it.each([
    ['no providers', { version: 1 }, 'providers'],
    ['a provider without endpoint', { providers: { groq: { protocol: 'openai' } } }, 'providers.groq.endpoint'],
    ['an endpoint that is not a URL', { providers: { groq: { protocol: 'openai', endpoint: 'api.groq.com' } } }, 'providers.groq.endpoint'],
    ['an empty key', { providers: { g: { protocol: 'openai', endpoint: 'https://g.example', keys: [{ key: '' }] } } }, 'providers.g.keys.0.key'],
    [
      'a bad expiresAt',
      { providers: { g: { protocol: 'openai', endpoint: 'https://g.example', keys: [{ key: 'k', expiresAt: 'soon' }] } } },
      'providers.g.keys.0.expiresAt',
    ],
    [
      'an unknown usage',
      { providers: { g: { protocol: 'openai', endpoint: 'https://g.example', models: [{ id: 'm', usage: 'telepathy' }] } } },
      'providers.g.models.0.usage',
    ],
    ['an upper-case provider id', { providers: { Groq: { protocol: 'openai', endpoint: 'https://g.example' } } }, 'providers.Groq'],
  ])('refuses %s, naming the path', (_, config, path) => {
    const parsed = AiConfig.safeParse(config);
    expect(parsed.success).toBe(false);
    expect(describeIssues(parsed.error!)).toContain(path);
  });
});

describe('Users schema', () => {
  it('keeps unknown user fields and requires a key', () => {
    const users = { ronan: { key: 'k1', team: 'core' }, audrey: { key: 'k2', rpm: 30, providers: ['groq'], disabled: false } };
    expect(Users.parse(users)).toEqual(users);
    expect(Users.safeParse({ bob: { rpm: 3 } }).success).toBe(false);
  });
});
