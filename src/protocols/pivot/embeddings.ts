import * as z from 'zod';
import { ModelField } from './model';

// OpenAI embeddings, the pivot for every embeddings translation.

export const EmbeddingsRequest = z.looseObject({
  model: ModelField,
  input: z.union([z.string(), z.array(z.string()), z.array(z.number()), z.array(z.array(z.number()))], {
    error: 'field "input" is required (a string or an array of strings)',
  }),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().positive().optional(),
});

export const EmbeddingsResponse = z.looseObject({
  object: z.literal('list'),
  data: z.array(z.looseObject({ object: z.literal('embedding'), index: z.number(), embedding: z.union([z.array(z.number()), z.string()]) })),
  model: z.string(),
  usage: z.looseObject({ prompt_tokens: z.number(), total_tokens: z.number() }),
});

export type EmbeddingsRequest = z.infer<typeof EmbeddingsRequest>;
export type EmbeddingsResponse = z.infer<typeof EmbeddingsResponse>;
