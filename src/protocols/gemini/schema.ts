import * as z from 'zod';

// Gemini generateContent (v1beta): what translation reads of its answers.

export const Part = z.looseObject({
  text: z.string().optional(),
  thought: z.boolean().optional(),
  thoughtSignature: z.string().optional(),
  functionCall: z.looseObject({ id: z.string().optional(), name: z.string(), args: z.record(z.string(), z.unknown()).nullish() }).optional(),
});

export const UsageMetadata = z.looseObject({
  promptTokenCount: z.number().optional(),
  candidatesTokenCount: z.number().optional(),
  thoughtsTokenCount: z.number().optional(),
  cachedContentTokenCount: z.number().optional(),
  totalTokenCount: z.number().optional(),
});

export const GenerateContentResponse = z.looseObject({
  candidates: z
    .array(
      z.looseObject({
        content: z.looseObject({ role: z.string().optional(), parts: z.array(Part).optional() }).optional(),
        finishReason: z.string().optional(),
      }),
    )
    .optional(),
  usageMetadata: UsageMetadata.optional(),
  modelVersion: z.string().optional(),
  responseId: z.string().optional(),
  promptFeedback: z.looseObject({ blockReason: z.string().optional() }).optional(),
});

export const BatchEmbedContentsResponse = z.looseObject({
  embeddings: z.array(z.looseObject({ values: z.array(z.number()) })),
});

export const CountTokensResponse = z.looseObject({ totalTokens: z.number() });

export type Part = z.infer<typeof Part>;
export type UsageMetadata = z.infer<typeof UsageMetadata>;
export type GenerateContentResponse = z.infer<typeof GenerateContentResponse>;
