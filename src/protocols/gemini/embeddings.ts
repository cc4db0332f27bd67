import { GatewayError } from '../../errors';
import { float32ToBase64 } from '../../base64';
import type { EmbeddingsRequest, EmbeddingsResponse } from '../pivot/embeddings';
import type { TranslateContext, UpstreamCall } from '../adapter';
import { geminiModel } from './request';
import { BatchEmbedContentsResponse } from './schema';

// OpenAI embeddings as Gemini batchEmbedContents, one request per input text.

export function embeddingsToBatch(req: EmbeddingsRequest, ctx: TranslateContext): UpstreamCall {
  const inputs = typeof req.input === 'string' ? [req.input] : req.input;
  if (!inputs.every((input): input is string => typeof input === 'string')) {
    throw new GatewayError(400, 'Gemini embeds text only: token-id inputs cannot be translated', 'unsupported_by_translation');
  }
  const model = geminiModel(ctx.model);
  return {
    operation: `models/${model}:batchEmbedContents`,
    search: '',
    body: {
      requests: inputs.map((text) => ({
        model: `models/${model}`,
        content: { parts: [{ text }] },
        ...(req.dimensions ? { outputDimensionality: req.dimensions } : {}),
      })),
    },
  };
}

/** Gemini reports no token counts for embeddings: usage is given as 0. */
export function batchToEmbeddings(json: unknown, req: EmbeddingsRequest, ctx: TranslateContext): EmbeddingsResponse {
  const parsed = BatchEmbedContentsResponse.safeParse(json);
  if (!parsed.success) throw new GatewayError(502, 'the provider answered with Gemini embeddings the gateway cannot read', 'upstream_unreadable');
  return {
    object: 'list',
    data: parsed.data.embeddings.map((embedding, index) => ({
      object: 'embedding',
      index,
      embedding: req.encoding_format === 'base64' ? float32ToBase64(embedding.values) : embedding.values,
    })),
    model: ctx.model,
    usage: { prompt_tokens: 0, total_tokens: 0 },
  };
}
