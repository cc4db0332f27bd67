import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { makeEnv, postJson, userHeaders } from '../helpers/env';
import { testConfig } from '../helpers/vault';
import { forgetKeyRests, mockFixtures } from './answers';

// Model routes (the vault's `routes`) order a unified request's fallback chain, and every answer says
// why its provider was chosen in X-Switchyard-Route, passed through or translated.

afterEach(() => {
  vi.restoreAllMocks();
  forgetKeyRests();
});

const chat = (model: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });

/** `shared-model` listed by anthropic (priority 1), gemini (2) and openai (3), with a route when given. */
function routedConfig(route?: Record<string, unknown>) {
  const config = testConfig() as ReturnType<typeof testConfig> & { routes?: Record<string, unknown> };
  const add = (id: string, priority: number) => (config.providers[id]!.models as unknown[]).push({ id: 'shared-model', usage: 'chat', priority });
  add('openai', 3);
  add('anthropic', 1);
  add('gemini', 2);
  if (route) config.routes = { 'shared-model': route };
  return config;
}

describe('X-Switchyard-Route', () => {
  it('priority (no route): the first of the chain, `priority`', async () => {
    mockFixtures();
    const res = await app.request('/v1/chat/completions', postJson(chat('shared-model')), await makeEnv({ config: routedConfig() }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-provider')).toBe('anthropic');
    expect(res.headers.get('x-switchyard-route')).toBe('priority');
  });

  it('a fallback names the providers it passed and their statuses', async () => {
    mockFixtures((call) =>
      call.url.includes('anthropic')
        ? Response.json({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, { status: 529 })
        : undefined,
    );
    const res = await app.request('/v1/chat/completions', postJson(chat('shared-model')), await makeEnv({ config: routedConfig() }));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-provider')).toBe('gemini');
    expect(res.headers.get('x-switchyard-route')).toBe('fallback after anthropic 529');
  });

  it('weighted: the X-Request-Id of a retry draws the same provider; the shares are named', async () => {
    mockFixtures();
    const env = await makeEnv({ config: routedConfig({ routing: 'weighted', weights: { openai: 50, gemini: 50 } }) });
    const served = new Map<string, string>();
    for (let i = 0; i < 20; i++) {
      const id = `client-retry-${i}`;
      for (let attempt = 0; attempt < 2; attempt++) {
        const res = await app.request('/v1/chat/completions', postJson(chat('shared-model'), userHeaders(undefined, { 'x-request-id': id })), env);
        expect(res.status).toBe(200);
        expect(res.headers.get('x-switchyard-route')).toBe('weighted 50/50');
        const provider = res.headers.get('x-switchyard-provider')!;
        if (attempt === 0) served.set(id, provider);
        else expect(provider).toBe(served.get(id));
      }
    }
    // anthropic has no weight: it is only a fallback.
    expect(new Set(served.values())).toEqual(new Set(['openai', 'gemini']));
  });

  it('latency: the route names the time to first byte, on a translated answer too', async () => {
    mockFixtures();
    const env = await makeEnv({ config: routedConfig({ routing: 'latency' }) });
    await app.request('/v1/chat/completions', postJson(chat('shared-model')), env);
    const res = await app.request('/v1/messages', postJson({ ...chat('shared-model'), max_tokens: 32 }), env);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-switchyard-route')).toMatch(/^latency (ttfb=\d+ms|unmeasured)$/);
  });

  it('a weighted route without weights is refused by the vault schema, naming the field', async () => {
    const { AiConfig, describeIssues } = await import('../../../src/vault/schema');
    const parsed = AiConfig.safeParse(routedConfig({ routing: 'weighted' }));
    expect(parsed.success).toBe(false);
    expect(describeIssues(parsed.error!)).toBe('routes.shared-model.weights: a weighted route needs weights with at least one provider above 0');
    expect(AiConfig.safeParse(routedConfig({ routing: 'fastest' })).success).toBe(false);
  });
});
