import { GatewayError } from '../../errors';
import type { ProtocolAdapter } from '../adapter';
import { batchToEmbeddings, embeddingsToBatch } from './embeddings';
import { chatToGenerateContent, geminiModel } from './request';
import { decodeGenerateContentStream, generateContentToChat } from './response';
import { CountTokensResponse } from './schema';
import { searchesBesideFunctions } from './web-search';

export const gemini: ProtocolAdapter = {
  authHeaders: (key) => ({ 'x-goog-api-key': key }),
  chat: {
    async request(req, ctx) {
      const model = geminiModel(ctx.model);
      return {
        operation: `models/${model}:${req.stream ? 'streamGenerateContent' : 'generateContent'}`,
        search: req.stream ? '?alt=sse' : '',
        body: await chatToGenerateContent(req, ctx),
      };
    },
    response: generateContentToChat,
    stream: decodeGenerateContentStream,
    webSearch: (req, ctx) => !req.tools?.length || searchesBesideFunctions(ctx.model),
  },
  embeddings: { request: embeddingsToBatch, response: batchToEmbeddings },
  countTokens: {
    // The whole request is counted (system instruction and tools included), not only `contents`.
    async request(req, ctx) {
      const model = geminiModel(ctx.model);
      const generateContentRequest = { model: `models/${model}`, ...(await chatToGenerateContent(req, ctx)) };
      return { operation: `models/${model}:countTokens`, search: '', body: { generateContentRequest } };
    },
    response(json) {
      const parsed = CountTokensResponse.safeParse(json);
      if (!parsed.success) throw new GatewayError(502, 'the provider answered a token count the gateway cannot read', 'upstream_unreadable');
      return parsed.data.totalTokens;
    },
  },
};
