// The OpenTelemetry GenAI semantic conventions' names for what a usage record calls an operation and
// a provider: the conventions' well-known values where one applies, the gateway's own name otherwise
// (as the conventions ask for systems they do not list).

/** Provider ids whose well-known `gen_ai.provider.name` differs from the id (openai, anthropic, groq… are the same). */
const PROVIDER_NAMES: Record<string, string> = {
  gemini: 'gcp.gemini',
  mistral: 'mistral_ai',
  xai: 'x_ai',
};

/** `gen_ai.provider.name` of a vault provider id. */
export const providerName = (provider: string): string => PROVIDER_NAMES[provider] ?? provider;

const OPERATION_NAMES: [RegExp, string][] = [
  [/^(chat\/completions|messages|responses)$/, 'chat'],
  [/^completions$/, 'text_completion'],
  [/^embeddings$|:(embedContent|batchEmbedContents)$/, 'embeddings'],
  [/:(generateContent|streamGenerateContent)$/, 'generate_content'],
  // Not in the conventions; named without the model that Gemini's path carries.
  [/^messages\/count_tokens$|:countTokens$/, 'count_tokens'],
];

/** `gen_ai.operation.name` of a forwarded operation (`chat/completions`, `models/{m}:generateContent`…). */
export function operationName(operation: string): string {
  return OPERATION_NAMES.find(([pattern]) => pattern.test(operation))?.[1] ?? operation;
}
