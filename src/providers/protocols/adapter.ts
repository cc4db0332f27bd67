import type { WireProtocol } from '../table';
import { anthropic } from './anthropic';
import { gemini } from './gemini';
import { openai } from './openai';

/** What differs between wire protocols when a request is forwarded as it is. */
export interface ProtocolAdapter {
  /** The provider-auth headers for one key; `incoming` are the client's request headers. */
  authHeaders(key: string, incoming: Headers): Record<string, string>;
}

export const ADAPTERS: Record<WireProtocol, ProtocolAdapter> = { openai, anthropic, gemini };
