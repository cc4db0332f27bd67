import type { ProtocolAdapter } from './adapter';

export const gemini: ProtocolAdapter = {
  authHeaders: (key) => ({ 'x-goog-api-key': key }),
};
