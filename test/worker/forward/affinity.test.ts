import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import { PREFIX_CHARS, promptAffinity } from '../../../src/forward/affinity';
import { keySucceeded } from '../../../src/forward/keys';
import { makeEnv, postJson } from '../helpers/env';
import { mockUpstream, type UpstreamCall } from '../helpers/fetch';
import { providerAnswer } from '../helpers/stand-in';
import { testConfig } from '../helpers/vault';
import { openaiError } from '../helpers/wire';

// Requests sharing a long prompt prefix go to one provider key (the provider's prompt cache is per
// key or account); short requests keep round-robin.

const GROQ_KEYS = ['gsk-key-groq-1', 'gsk-key-groq-2', 'gsk-key-groq-3', 'gsk-key-groq-4'];
const ANTHROPIC_KEYS = ['sk-ant-key-1', 'sk-ant-key-2', 'sk-ant-key-3'];
const GEMINI_KEYS = ['AIza-key-1', 'AIza-key-2', 'AIza-key-3'];

function config() {
  const config = testConfig();
  config.providers.groq!.keys = GROQ_KEYS.map((key) => ({ key }));
  config.providers.anthropic!.keys = ANTHROPIC_KEYS.map((key) => ({ key }));
  config.providers.gemini!.keys = GEMINI_KEYS.map((key) => ({ key }));
  return config;
}

afterEach(() => {
  vi.restoreAllMocks();
  for (const key of GROQ_KEYS) keySucceeded('groq', key);
});

/** The provider key an upstream call carried, whatever the protocol's auth header. */
const keyOf = (call: UpstreamCall) =>
  call.headers.get('authorization')?.replace('Bearer ', '') ?? call.headers.get('x-api-key') ?? call.headers.get('x-goog-api-key');

/** A system prompt of about `tokens` tokens (4 characters each), distinct per `seed`. */
const systemPrompt = (seed: string, tokens: number) => `You are the ${seed} assistant. `.padEnd(tokens * 4, `Rule ${seed}: be precise. `);

const LONG_SYSTEM = systemPrompt('billing', 1500);

const chat = (system: string | undefined, ...turns: string[]) => ({
  model: 'llama-3.3-70b-versatile',
  messages: [
    ...(system === undefined ? [] : [{ role: 'system', content: system }]),
    ...turns.map((content, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content })),
  ],
});

describe('promptAffinity', () => {
  it('is undefined below about 1 024 tokens and a number from there on', () => {
    expect(promptAffinity(chat(systemPrompt('a', 200), 'hello'))).toBeUndefined();
    expect(promptAffinity({ prompt: 'x'.repeat(PREFIX_CHARS - 10) })).toBeUndefined();
    expect(promptAffinity(chat(systemPrompt('a', 1100), 'hello'))).toBeTypeOf('number');
  });

  it('a conversation keeps its number as it grows; another system prompt gets another', () => {
    const first = promptAffinity(chat(LONG_SYSTEM, 'How much is plan A?'));
    expect(promptAffinity(chat(LONG_SYSTEM, 'How much is plan A?', 'It is 10 €.', 'And plan B?'))).toBe(first);
    // The long system prompt alone is the prefix: other questions after it share it.
    expect(promptAffinity(chat(LONG_SYSTEM, 'Something else entirely'))).toBe(first);
    expect(promptAffinity(chat(systemPrompt('support', 1500), 'How much is plan A?'))).not.toBe(first);
  });

  it('reads Anthropic system and Gemini systemInstruction prompts', () => {
    const anthropic = { system: LONG_SYSTEM, messages: [{ role: 'user', content: 'hi' }] };
    const gemini = { systemInstruction: { parts: [{ text: LONG_SYSTEM }] }, contents: [{ role: 'user', parts: [{ text: 'hi' }] }] };
    expect(promptAffinity(anthropic)).toBe(promptAffinity({ ...anthropic, messages: [{ role: 'user', content: 'other' }] }));
    expect(promptAffinity(gemini)).toBeTypeOf('number');
  });
});

describe('key choice', () => {
  it('requests sharing a long prefix all go to one key, first attempt', async () => {
    const { calls } = mockUpstream(providerAnswer);
    const env = await makeEnv({ config: config() });
    for (let i = 0; i < 8; i++) {
      const res = await app.request('/groq/v1/chat/completions', postJson(chat(LONG_SYSTEM, `question ${i}`)), env);
      expect(res.status).toBe(200);
    }
    expect(new Set(calls.map(keyOf)).size).toBe(1);
    expect(calls).toHaveLength(8);
  });

  it('short requests still spread over every key', async () => {
    const { calls } = mockUpstream(providerAnswer);
    const env = await makeEnv({ config: config() });
    for (let i = 0; i < 8; i++) await app.request('/groq/v1/chat/completions', postJson(chat('Be brief.', `question ${i}`)), env);
    expect(new Set(calls.map(keyOf))).toEqual(new Set(GROQ_KEYS));
  });

  it('different long prefixes land on different keys', async () => {
    const { calls } = mockUpstream(providerAnswer);
    const env = await makeEnv({ config: config() });
    for (const seed of ['billing', 'support', 'sales', 'legal', 'travel', 'health', 'school', 'garden']) {
      await app.request('/groq/v1/chat/completions', postJson(chat(systemPrompt(seed, 1500), 'hi')), env);
    }
    expect(new Set(calls.map(keyOf)).size).toBeGreaterThan(1);
  });

  it('while the prefix key rests, the next key in order stands in; then the prefix key is back', async () => {
    let refuse: string | undefined;
    const { calls } = mockUpstream((call) =>
      keyOf(call) === refuse ? openaiError(429, 'rate limited', 'rate_limit_error', 'rate_limit_exceeded') : providerAnswer(call),
    );
    const env = await makeEnv({ config: config() });
    const ask = (i: number) => app.request('/groq/v1/chat/completions', postJson(chat(LONG_SYSTEM, `question ${i}`)), env);
    expect((await ask(0)).status).toBe(200);
    const sticky = keyOf(calls[0]!)!;
    const next = GROQ_KEYS[(GROQ_KEYS.indexOf(sticky) + 1) % GROQ_KEYS.length];

    refuse = sticky;
    expect((await ask(1)).status).toBe(200);
    expect(calls.slice(1).map(keyOf)).toEqual([sticky, next]);
    // Resting now: the next request goes straight to the stand-in key.
    expect((await ask(2)).status).toBe(200);
    expect(keyOf(calls[3]!)).toBe(next);

    refuse = undefined;
    keySucceeded('groq', sticky);
    expect((await ask(3)).status).toBe(200);
    expect(keyOf(calls[4]!)).toBe(sticky);
  });

  it.each([
    [
      'Anthropic messages',
      '/anthropic/v1/messages',
      (q: string) => ({ model: 'claude-sonnet-4-5', max_tokens: 64, system: LONG_SYSTEM, messages: [{ role: 'user', content: q }] }),
    ],
    [
      'Gemini generateContent',
      '/gemini/v1beta/models/gemini-2.0-flash:generateContent',
      (q: string) => ({ systemInstruction: { parts: [{ text: LONG_SYSTEM }] }, contents: [{ role: 'user', parts: [{ text: q }] }] }),
    ],
    ['unified chat translated to Anthropic', '/v1/chat/completions', (q: string) => ({ ...chat(LONG_SYSTEM, q), model: 'anthropic/claude-sonnet-4-5' })],
  ])('%s: a long shared prefix sticks to one key too', async (_, path, body) => {
    const { calls } = mockUpstream(providerAnswer);
    const env = await makeEnv({ config: config() });
    for (let i = 0; i < 6; i++) expect((await app.request(path, postJson(body(`question ${i}`)), env)).status).toBe(200);
    expect(calls).toHaveLength(6);
    expect(new Set(calls.map(keyOf)).size).toBe(1);
  });
});
