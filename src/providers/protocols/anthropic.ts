import type { ProtocolAdapter } from './adapter';

export const ANTHROPIC_VERSION = '2023-06-01';

export const anthropic: ProtocolAdapter = {
  // A client that pins its own anthropic-version keeps it; otherwise the documented stable one.
  authHeaders: (key, incoming) => ({
    'x-api-key': key,
    'anthropic-version': incoming.get('anthropic-version') ?? ANTHROPIC_VERSION,
  }),
};
