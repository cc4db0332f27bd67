import { describe, expect, it } from 'vitest';
import type { Provider } from '../vault/schema';
import { findOperation } from './operation';

const provider = (protocol: string, operations?: string[]) => ({ protocol, keys: [], models: [], operations }) as unknown as Provider;

describe('findOperation', () => {
  it('finds fixed paths by method and path, and patterns with the model in the path', () => {
    expect(findOperation(provider('openai'), 'POST', 'chat/completions')).toMatchObject({ kind: 'chat', model: 'body' });
    expect(findOperation(provider('openai'), 'GET', 'models/gpt-4o')).toMatchObject({ model: 'none' });
    expect(findOperation(provider('gemini'), 'POST', 'models/gemini-2.5-pro:streamGenerateContent')).toMatchObject({
      kind: 'chat',
      pathModel: 'gemini-2.5-pro',
    });
  });

  it('refuses what no table names (another method, another protocol’s path) unless the vault widened it', () => {
    expect(() => findOperation(provider('openai'), 'GET', 'chat/completions')).toThrow(/not an operation/);
    expect(() => findOperation(provider('openai'), 'POST', 'messages')).toThrow(/not an operation/);
    expect(findOperation(provider('openai', ['POST batches']), 'POST', 'batches/b1/cancel')).toMatchObject({ kind: 'other', model: 'unknown' });
    expect(() => findOperation(provider('openai'), 'POST', 'chat/../admin')).toThrow(/does not forward/);
  });
});
