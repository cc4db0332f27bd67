// The models each stand-in dialect lists, in the provider's own listing shape. The demo vault
// (dev/demo-vault.ts) offers models from here, so a listing and the vault agree.

export const OPENAI_MODELS = [
  { id: 'llama-3.3-70b-versatile', owned_by: 'Meta', context_window: 131072, max_completion_tokens: 32768 },
  { id: 'llama-3.1-8b-instant', owned_by: 'Meta', context_window: 131072, max_completion_tokens: 131072 },
  { id: 'openai/gpt-oss-120b', owned_by: 'OpenAI', context_window: 131072, max_completion_tokens: 65536 },
  { id: 'nomic-embed-text-v1.5', owned_by: 'Nomic', context_window: 8192, max_completion_tokens: 8192 },
  { id: 'whisper-large-v3-turbo', owned_by: 'OpenAI', context_window: 448, max_completion_tokens: 448 },
];

export const ANTHROPIC_MODELS = [
  { id: 'claude-sonnet-5', display_name: 'Claude Sonnet 5', created_at: '2026-05-01T00:00:00Z' },
  { id: 'claude-haiku-4-5-20251001', display_name: 'Claude Haiku 4.5', created_at: '2025-10-15T00:00:00Z' },
];

export const GEMINI_MODELS = [
  {
    name: 'models/gemini-2.0-flash',
    version: '2.0',
    displayName: 'Gemini 2.0 Flash',
    description: 'Gemini 2.0 Flash',
    inputTokenLimit: 1048576,
    outputTokenLimit: 8192,
    supportedGenerationMethods: ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
    temperature: 1,
    topP: 0.95,
    topK: 40,
    maxTemperature: 2,
  },
  {
    name: 'models/gemini-2.5-flash',
    version: '001',
    displayName: 'Gemini 2.5 Flash',
    description: 'Stable version of Gemini 2.5 Flash',
    inputTokenLimit: 1048576,
    outputTokenLimit: 65536,
    supportedGenerationMethods: ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
    temperature: 1,
    topP: 0.95,
    topK: 64,
    maxTemperature: 2,
    thinking: true,
  },
  {
    name: 'models/gemini-3-pro-preview',
    version: '3-pro-preview-11-2025',
    displayName: 'Gemini 3 Pro Preview',
    description: 'Gemini 3 Pro Preview',
    inputTokenLimit: 1048576,
    outputTokenLimit: 65536,
    supportedGenerationMethods: ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
    temperature: 1,
    topP: 0.95,
    topK: 64,
    maxTemperature: 2,
    thinking: true,
    signaturesRequired: true,
  },
  {
    name: 'models/text-embedding-004',
    version: '004',
    displayName: 'Text Embedding 004',
    description: 'Obtain a distributed representation of a text.',
    inputTokenLimit: 2048,
    outputTokenLimit: 1,
    supportedGenerationMethods: ['embedContent'],
  },
];
