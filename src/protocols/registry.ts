import type { WireProtocol } from '../providers/table';
import type { ProtocolAdapter } from './adapter';
import { anthropic } from './anthropic/adapter';
import { gemini } from './gemini/adapter';
import { openai } from './openai/adapter';

// The one place that lists the protocols: a protocol never imports it (eslint.config.js).
export const ADAPTERS: Record<WireProtocol, ProtocolAdapter> = { openai, anthropic, gemini };
