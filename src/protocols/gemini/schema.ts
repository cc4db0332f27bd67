import * as z from 'zod';

// Gemini generateContent (v1beta): what translation reads of its answers.

/** Google Search grounding: the queries run, the sources (chunks), the text each source supports (UTF-8 byte offsets). */
export const GroundingMetadata = z.looseObject({
  webSearchQueries: z.array(z.string()).optional(),
  groundingChunks: z.array(z.looseObject({ web: z.looseObject({ uri: z.string().optional(), title: z.string().optional() }).optional() })).optional(),
  groundingSupports: z
    .array(
      z.looseObject({
        segment: z.looseObject({ startIndex: z.number().optional(), endIndex: z.number().optional() }).optional(),
        groundingChunkIndices: z.array(z.number()).optional(),
      }),
    )
    .optional(),
});

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
        groundingMetadata: GroundingMetadata.optional(),
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
export type GroundingMetadata = z.infer<typeof GroundingMetadata>;
export type GenerateContentResponse = z.infer<typeof GenerateContentResponse>;

// What the Gemini-protocol door (/v1beta/models/…) reads of a client's request. Google takes
// snake_case field names as well; the door reads them after renaming (client-request.ts).

export const RequestPart = Part.extend({
  inlineData: z.looseObject({ mimeType: z.string(), data: z.string() }).optional(),
  fileData: z.looseObject({ mimeType: z.string().optional(), fileUri: z.string() }).optional(),
  functionResponse: z.looseObject({ id: z.string().optional(), name: z.string(), response: z.record(z.string(), z.unknown()).nullish() }).optional(),
});

export const Content = z.looseObject({ role: z.string().optional(), parts: z.array(RequestPart, { error: 'every content needs "parts" (an array)' }) });

export const FunctionDeclaration = z.looseObject({
  name: z.string(),
  description: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  parametersJsonSchema: z.record(z.string(), z.unknown()).optional(),
});

export const ThinkingConfig = z.looseObject({
  includeThoughts: z.boolean().optional(),
  thinkingBudget: z.number().optional(),
  thinkingLevel: z.string().optional(),
});

export const GenerationConfig = z.looseObject({
  temperature: z.number().optional(),
  topP: z.number().optional(),
  maxOutputTokens: z.number().optional(),
  stopSequences: z.array(z.string()).optional(),
  seed: z.number().optional(),
  presencePenalty: z.number().optional(),
  frequencyPenalty: z.number().optional(),
  candidateCount: z.number().optional(),
  responseMimeType: z.string().optional(),
  responseSchema: z.record(z.string(), z.unknown()).optional(),
  responseJsonSchema: z.record(z.string(), z.unknown()).optional(),
  thinkingConfig: ThinkingConfig.optional(),
});

export const GenerateContentRequest = z.looseObject({
  contents: z.array(Content, { error: 'field "contents" is required (an array of contents)' }).min(1, 'field "contents" must not be empty'),
  systemInstruction: z.looseObject({ parts: z.array(RequestPart) }).optional(),
  tools: z.array(z.looseObject({ functionDeclarations: z.array(FunctionDeclaration).optional() })).optional(),
  toolConfig: z
    .looseObject({
      functionCallingConfig: z.looseObject({ mode: z.string().optional(), allowedFunctionNames: z.array(z.string()).optional() }).optional(),
    })
    .optional(),
  generationConfig: GenerationConfig.optional(),
});

/** countTokens takes `contents` or a whole `generateContentRequest`. */
export const CountTokensRequest = z.looseObject({
  contents: z.array(Content).optional(),
  generateContentRequest: GenerateContentRequest.optional(),
});

export type RequestPart = z.infer<typeof RequestPart>;
export type Content = z.infer<typeof Content>;
export type GenerateContentRequest = z.infer<typeof GenerateContentRequest>;
export type CountTokensRequest = z.infer<typeof CountTokensRequest>;
