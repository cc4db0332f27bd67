import type { ClientDialect, ProtocolAdapter } from '../adapter';
import { chatToMessages, foldMidConversationSystem, messagesToChat } from './request';
import { chatToMessage, messageToChat, withAnswerModel } from './response';
import { MessagesRequest } from './schema';
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
