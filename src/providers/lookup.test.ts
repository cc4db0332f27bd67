import { describe, expect, it } from 'vitest';
import type { Provider } from '../vault/schema';
import { findModel } from './lookup';

const provider = (ids: string[]): Provider => ({ keys: [{ key: 'k' }], models: ids.map((id) => ({ id })) }) as unknown as Provider;

describe('findModel', () => {
  it('finds a model by its id or by the AI Gateway form `prefix/id`, the first listed when both name one', () => {
    const groq = provider(['llama', 'groq/llama', 'other']);
    expect(findModel(groq, 'llama', 'groq')?.id).toBe('llama');
    expect(findModel(groq, 'groq/llama', 'groq')?.id).toBe('llama');
    expect(findModel(provider(['groq/llama', 'llama']), 'groq/llama', 'groq')?.id).toBe('groq/llama');
    expect(findModel(groq, 'groq/other', 'groq')?.id).toBe('other');
    expect(findModel(groq, 'groq/other')).toBeUndefined();
    expect(findModel(groq, 'missing', 'groq')).toBeUndefined();
  });

  it('sees a new vault’s models: the index belongs to the provider entry it was built from', () => {
    expect(findModel(provider(['a']), 'b')).toBeUndefined();
    expect(findModel(provider(['a', 'b']), 'b')?.id).toBe('b');
  });
});
