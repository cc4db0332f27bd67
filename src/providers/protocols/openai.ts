import type { ProtocolAdapter } from './adapter';

export const openai: ProtocolAdapter = {
  authHeaders: (key) => ({ authorization: `Bearer ${key}` }),
};
