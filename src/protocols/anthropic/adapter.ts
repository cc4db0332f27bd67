import { GatewayError } from '../../errors';
import type { ClientDialect, ProtocolAdapter } from '../adapter';
import { omitUndefined } from '../pivot/chat';
import { chatToMessages, foldMidConversationSystem, messagesToChat } from './request';
import { chatToMessage, messageToChat, withAnswerModel } from './response';
import { CountTokensResponse, MessagesRequest } from './schema';
import { decodeMessagesStream, encodeMessagesStream } from './stream';
import { anthropicErrors } from './errors';

export const ANTHROPIC_VERSION = '2023-06-01';

export const anthropic: ProtocolAdapter = {
  // A client that pins its own anthropic-version keeps it; otherwise the documented stable one.
  authHeaders: (key, incoming) => ({
    'x-api-key': key,
    'anthropic-version': incoming.get('anthropic-version') ?? ANTHROPIC_VERSION,
  }),
  chat: {
    request: async (req, ctx) => ({ operation: 'messages', search: '', body: chatToMessages(req, ctx) }),
    response: messageToChat,
    stream: decodeMessagesStream,
    // Its web search server tool runs beside any other tool.
    webSearch: () => true,
  },
  countTokens: {
    // count_tokens takes the request's input fields only (max_tokens and sampling are extra inputs to it).
    async request(req, ctx) {
      const { model, messages, system, tools, tool_choice, thinking } = chatToMessages(req, ctx);
      return { operation: 'messages/count_tokens', search: '', body: omitUndefined({ model, messages, system, tools, tool_choice, thinking }) };
    },
    response(json) {
      const parsed = CountTokensResponse.safeParse(json);
      if (!parsed.success) throw new GatewayError(502, 'the provider answered a token count the gateway cannot read', 'upstream_unreadable');
      return parsed.data.input_tokens;
    },
  },
};

/** Clients of `POST /v1/messages`: Anthropic requests in, Anthropic messages and events out. */
export const anthropicClient: ClientDialect<MessagesRequest> = {
  protocol: 'anthropic',
  errorDialect: anthropicErrors,
  chatOperation: 'messages',
  schema: MessagesRequest,
  toPivot: messagesToChat,
  passThrough: (body, incoming) => foldMidConversationSystem(body, incoming.get('anthropic-beta') ?? undefined),
  // Named as the client asked: see withAnswerModel.
  fromPivot: (completion, req) => chatToMessage(completion, req.model),
  streamFromPivot: (req) => encodeMessagesStream(req.model),
  renameAnswerModel: withAnswerModel,
};
