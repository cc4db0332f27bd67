import { afterEach, describe, expect, it, vi } from 'vitest';
import { classifyModel, discoverModels, mergeModels, modelListRequest } from '../../src/pages/vault/discover';
import { endpointBase } from '../../src/providers/endpoint';
import type { Model, Provider } from '../../src/vault/schema';

// The vault editor's "Refresh from API" logic, in Node: which URL and headers each provider gets,
// how each listing shape is read and paginated, how refusals read, and how a list merges.

const provider = (protocol: string, endpoint: string, keys: Provider['keys'] = [{ key: 'k-1' }]): Provider => ({
  protocol,
  endpoint,
  keys,
  models: [],
});

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('modelListRequest', () => {
  it('reduces an endpoint to its API base (the module the worker uses too)', () => {
    for (const [endpoint, base] of [
      ['https://api.groq.com/openai/v1', 'https://api.groq.com/openai/v1'],
      ['https://api.groq.com/openai/v1/', 'https://api.groq.com/openai/v1'],
      ['https://api.groq.com/openai/v1/chat/completions', 'https://api.groq.com/openai/v1'],
      ['https://api.anthropic.com/v1/messages', 'https://api.anthropic.com/v1'],
      ['https://api.openai.com/v1/audio/transcriptions/', 'https://api.openai.com/v1'],
      ['https://api.openai.com/v1/images/generations', 'https://api.openai.com/v1'],
      ['https://generativelanguage.googleapis.com/v1beta', 'https://generativelanguage.googleapis.com/v1beta'],
      ['https://openrouter.ai/api/v1/models', 'https://openrouter.ai/api/v1'],
    ]) {
      expect(endpointBase(endpoint!), endpoint).toBe(base);
    }
  });

  it('asks each protocol its own way', () => {
    expect(modelListRequest('groq', provider('openai', 'https://api.groq.com/openai/v1/chat/completions'), 'gsk_1')).toEqual({
      url: 'https://api.groq.com/openai/v1/models',
      headers: { authorization: 'Bearer gsk_1' },
    });
    // OpenRouter lists image and audio models only when asked (the provider table's modelsPath).
    expect(modelListRequest('openrouter', provider('openai', 'https://openrouter.ai/api/v1'), 'or').url).toBe(
      'https://openrouter.ai/api/v1/models?output_modalities=all',
    );
    expect(modelListRequest('my-claude', provider('anthropic', 'https://api.anthropic.com/v1'), 'sk-ant')).toEqual({
      url: 'https://api.anthropic.com/v1/models?limit=1000',
      headers: { 'x-api-key': 'sk-ant', 'anthropic-version': '2023-06-01', 'anthropic-dangerous-direct-browser-access': 'true' },
    });
    expect(modelListRequest('gemini', provider('gemini', 'https://generativelanguage.googleapis.com/v1beta'), 'AIza+/=')).toEqual({
      url: 'https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000&key=AIza%2B%2F%3D',
      headers: {},
    });
  });
});

describe('classifyModel', () => {
  it.each([
    ['llama-3.3-70b-versatile', [], 'chat'],
    ['nomic-embed-text-v1.5', [], 'embedding'],
    ['text-embedding-3-small', [], 'embedding'],
    ['whisper-large-v3-turbo', [], 'transcription'],
    ['gpt-4o-mini-tts', [], 'tts'],
    ['playai-tts', [], 'tts'],
    ['dall-e-3', [], 'image-generation'],
    ['gpt-image-1', [], 'image-generation'],
    ['gemini-2.0-flash', ['generateContent', 'countTokens'], 'chat'],
    ['gecko-001', ['embedContent'], 'embedding'],
  ])('%s is %s', (id, methods, usage) => {
    expect(classifyModel(id, methods)).toBe(usage);
  });
});

describe('discoverModels', () => {
  it('uses the first usable key and reads OpenAI-style limits (groq, sambanova, mistral, openrouter)', async () => {
    const fetch = vi.spyOn(globalThis, 'fetch').mockResolvedValue(
      json({
        object: 'list',
        data: [
          { id: 'a', context_window: 131072, max_completion_tokens: 32768 },
          { id: 'b', context_length: 16384 },
          { id: 'c', max_context_length: 32000 },
          { id: 'd', top_provider: { context_length: 200000, max_completion_tokens: 8192 } },
          { id: 'e', context_window: null },
        ],
      }),
    );
    const keys = [{ key: 'old', type: 'expired' }, { key: 'past', expiresAt: '2001-01-01T00:00:00Z' }, { key: 'good' }];
    const found = await discoverModels('groq', provider('openai', 'https://api.groq.com/openai/v1', keys));
    expect(fetch).toHaveBeenCalledOnce();
    expect(fetch.mock.calls[0]![1]).toEqual({ headers: { authorization: 'Bearer good' } });
    expect(found).toEqual([
      { id: 'a', usage: 'chat', contextWindow: 131072, maxOutputTokens: 32768 },
      { id: 'b', usage: 'chat', contextWindow: 16384, maxOutputTokens: undefined },
      { id: 'c', usage: 'chat', contextWindow: 32000, maxOutputTokens: undefined },
      { id: 'd', usage: 'chat', contextWindow: 200000, maxOutputTokens: 8192 },
      { id: 'e', usage: 'chat', contextWindow: undefined, maxOutputTokens: undefined },
    ]);
  });

  it('reads OpenRouter prices (USD per token, as strings) as USD per 1M tokens, skipping variable (-1) prices', async () => {
    vi.spyOn(globalThis, 'fetch').mockResolvedValue(
      json({
        data: [
          {
            id: 'anthropic/claude-sonnet-4.5',
            context_length: 1000000,
            pricing: { prompt: '0.000003', completion: '0.000015', input_cache_read: '0.0000003', request: '0' },
          },
          { id: 'meta-llama/llama-3.3-70b-instruct', pricing: { prompt: '0.00000013', completion: '0.0000004' } },
          { id: 'openrouter/auto', pricing: { prompt: '-1', completion: '-1' } },
        ],
      }),
    );
    const found = await discoverModels('openrouter', provider('openai', 'https://openrouter.ai/api/v1'));
    expect(found[0]).toMatchObject({ inputPrice: 3, outputPrice: 15, cachedInputPrice: 0.3 });
    expect(found[1]).toMatchObject({ inputPrice: 0.13, outputPrice: 0.4 });
    expect(found[1]!.cachedInputPrice).toBeUndefined();
    expect(found[2]!.inputPrice).toBeUndefined();
    const merged = mergeModels([{ id: 'meta-llama/llama-3.3-70b-instruct' }, { id: 'anthropic/claude-sonnet-4.5', inputPrice: 2, outputPrice: 10 }], found);
    // Missing prices are filled; an operator's own prices are kept.
    expect(merged.models[0]).toMatchObject({ inputPrice: 0.13, outputPrice: 0.4 });
    expect(merged.models[1]).toMatchObject({ inputPrice: 2, outputPrice: 10 });
    expect(merged.models[1]!.cachedInputPrice).toBeUndefined();
    expect(merged.models[2]).toEqual({ id: 'openrouter/auto', usage: 'chat' });
  });

  it('follows Anthropic pages (has_more, after_id) and Gemini pages (nextPageToken)', async () => {
    const fetch = vi
      .spyOn(globalThis, 'fetch')
      .mockResolvedValueOnce(json({ data: [{ id: 'claude-a' }, { id: 'claude-b' }], has_more: true, last_id: 'claude-b' }))
      .mockResolvedValueOnce(json({ data: [{ id: 'claude-c' }], has_more: false }))
      .mockResolvedValueOnce(
        json({
          models: [{ name: 'models/gemini-x', inputTokenLimit: 1000, outputTokenLimit: 100, supportedGenerationMethods: ['generateContent'] }],
          nextPageToken: 'p2',
        }),
      )
      .mockResolvedValueOnce(json({ models: [{ name: 'models/embedding-y', inputTokenLimit: 2048, supportedGenerationMethods: ['embedContent'] }] }));

    const claude = await discoverModels('anthropic', provider('anthropic', 'https://api.anthropic.com/v1'));
    expect(claude.map((m) => m.id)).toEqual(['claude-a', 'claude-b', 'claude-c']);
    expect(String(fetch.mock.calls[1]![0])).toBe('https://api.anthropic.com/v1/models?limit=1000&after_id=claude-b');

    const gemini = await discoverModels('gemini', provider('gemini', 'https://generativelanguage.googleapis.com/v1beta'));
    expect(gemini).toEqual([
      { id: 'gemini-x', usage: 'chat', contextWindow: 1000, maxOutputTokens: 100 },
      { id: 'embedding-y', usage: 'embedding', contextWindow: 2048, maxOutputTokens: undefined },
    ]);
    expect(String(fetch.mock.calls[3]![0])).toBe('https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000&key=k-1&pageToken=p2');
  });

  it('explains a refusal without showing the key', async () => {
    vi.spyOn(globalThis, 'fetch').mockResolvedValueOnce(json({ error: { message: 'Invalid API Key', type: 'invalid_request_error' } }, 401));
    const refused = discoverModels('groq', provider('openai', 'https://api.groq.com/openai/v1', [{ key: 'gsk_secret_value' }]));
    await expect(refused).rejects.toThrow('api.groq.com refused to list its models (401: Invalid API Key). Nothing was changed.');

    vi.spyOn(globalThis, 'fetch').mockRejectedValueOnce(new TypeError('Failed to fetch'));
    const blocked = discoverModels('gemini', provider('gemini', 'https://generativelanguage.googleapis.com/v1beta', [{ key: 'AIza_secret' }]));
    await expect(blocked).rejects.toThrow(/generativelanguage\.googleapis\.com did not let this page read its model list \(.*CORS.*\)\. Nothing was changed\./);
    await expect(blocked).rejects.not.toThrow(/AIza_secret/);

    await expect(discoverModels('groq', provider('openai', 'https://api.groq.com/openai/v1', [{ key: 'k', type: 'expired' }]))).rejects.toThrow(
      'groq has no usable key to ask for its model list: add one first.',
    );
  });
});

describe('mergeModels', () => {
  it('keeps the known models in place, with their own values and unknown fields; appends new ones', () => {
    const known: Model[] = [
      { id: 'b', usage: 'chat', contextWindow: 1000, priority: 0, tags: ['mine'], custom: { kept: true } },
      { id: 'gone', usage: 'chat', priority: 10 },
      { id: 'a', priority: 20, contextWindow: null },
    ];
    const [b, gone, a] = known;
    const merge = mergeModels(known, [
      { id: 'new-1', usage: 'embedding', contextWindow: 8192 },
      { id: 'a', usage: 'chat', contextWindow: 4096, maxOutputTokens: 512 },
      { id: 'b', usage: 'embedding', contextWindow: 9999, maxOutputTokens: 100 },
      { id: 'new-2', usage: 'chat' },
    ]);
    expect(merge.models.map((m) => m.id)).toEqual(['b', 'gone', 'a', 'new-1', 'new-2']);
    expect(merge.models.slice(0, 3)).toEqual([b, gone, a]);
    expect(merge.models[0]).toBe(b);
    // The vault's own values win; only what it lacks is filled in.
    expect(b).toEqual({ id: 'b', usage: 'chat', contextWindow: 1000, maxOutputTokens: 100, priority: 0, tags: ['mine'], custom: { kept: true } });
    expect(a).toEqual({ id: 'a', usage: 'chat', priority: 20, contextWindow: 4096, maxOutputTokens: 512 });
    expect(merge.models.slice(3)).toEqual([
      { id: 'new-1', usage: 'embedding', contextWindow: 8192 },
      { id: 'new-2', usage: 'chat' },
    ]);
    expect(merge.added).toEqual(['new-1', 'new-2']);
    expect(merge.completed).toEqual(['b', 'a']);
    expect(merge.unlisted).toEqual(['gone']);
  });
});
