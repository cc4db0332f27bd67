// The provider side of the conformance matrix: one model per wire protocol on the stand-ins, each
// a reasoning model (Gemini 3 Pro refuses a function call that lost its thought signature).

export const PROVIDERS = {
  'OpenAI-protocol': 'groq/llama-3.3-70b-versatile',
  Anthropic: 'anthropic/claude-sonnet-5',
  Gemini: 'gemini/gemini-3-pro-preview',
} as const;

export type ProviderName = keyof typeof PROVIDERS;

/** Three cities: the stand-ins call the tool once per city, one turn each, then answer. */
export const THREE_CITIES = "What's the weather in Paris, in Berlin and in Rome?";
export const CITIES = ['Paris', 'Berlin', 'Rome'];

export const WEATHER_SCHEMA = { type: 'object' as const, properties: { location: { type: 'string' } }, required: ['location'] };

/** What the tool answers for a city. */
export const weatherIn = (location: string) => `${location}: 18 degrees`;
