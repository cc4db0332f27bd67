import fc from 'fast-check';
import { TrieRouter } from 'hono/router/trie-router';
import { describe, expect, it } from 'vitest';
import { MAX_MEMO_ENTRIES, MemoRouter } from './memo-router';

// The app's own shapes: middleware on every path, static routes, params with patterns, a provider prefix.
const ROUTES: [string, string][] = [
  ['ALL', '/*'],
  ['GET', '/healthz'],
  ['GET', '/v1/models'],
  ['GET', '/v1/models/:model{.+}'],
  ['GET', '/:provider/:version{v1(?:beta)?}/models'],
  ['GET', '/:provider/:version{v1(?:beta)?}/models/:model{.+}'],
  ['POST', '/v1/chat/completions'],
  ['PATCH', '/admin/users/:name'],
  ['ALL', '/:provider/:version{v1(?:beta|alpha)?}/*'],
];

function routers() {
  const memo = new MemoRouter<string>();
  const trie = new TrieRouter<string>();
  for (const [method, path] of ROUTES) {
    memo.add(method, path, `${method} ${path}`);
    trie.add(method, path, `${method} ${path}`);
  }
  return { memo, trie };
}

const segment = fc.constantFrom('v1', 'v1beta', 'v1alpha', 'v2', 'groq', 'models', 'admin', 'users', 'chat', 'completions', 'a%2Fb', 'x', '');
const path = fc.array(segment, { minLength: 0, maxLength: 6 }).map((parts) => `/${parts.join('/')}`);
const method = fc.constantFrom('GET', 'POST', 'PATCH', 'DELETE');

describe('MemoRouter', () => {
  it('matches as the TrieRouter does, the first time and every time after', () => {
    const { memo, trie } = routers();
    fc.assert(
      fc.property(fc.array(fc.tuple(method, path), { minLength: 1, maxLength: 20 }), (calls) => {
        for (const [m, p] of [...calls, ...calls]) expect(memo.match(m, p)).toEqual(trie.match(m, p));
      }),
    );
  });

  it('remembers a match: the same path gets the same result without a new search', () => {
    const { memo } = routers();
    const first = memo.match('POST', '/groq/v1/chat/completions');
    expect(memo.match('POST', '/groq/v1/chat/completions')).toBe(first);
    expect(memo.match('GET', '/groq/v1/chat/completions')).not.toBe(first);
    expect(memo.remembered).toBe(2);
  });

  it('forgets what it remembered when a route is added', () => {
    const { memo } = routers();
    const before = memo.match('GET', '/late');
    expect(before[0].map(([handler]) => handler)).toEqual(['ALL /*']);
    memo.add('GET', '/late', 'GET /late');
    expect(memo.match('GET', '/late')[0].map(([handler]) => handler)).toEqual(['ALL /*', 'GET /late']);
  });

  it('stays bounded: at most MAX_MEMO_ENTRIES matches, and long paths are never kept', () => {
    const { memo, trie } = routers();
    for (let i = 0; i < MAX_MEMO_ENTRIES * 3; i++) {
      memo.match('GET', `/groq/v1/models/m-${i}`);
      expect(memo.remembered).toBeLessThanOrEqual(MAX_MEMO_ENTRIES);
    }
    const long = `/groq/v1/models/${'m'.repeat(300)}`;
    memo.match('POST', '/groq/v1/chat/completions');
    const size = memo.remembered;
    expect(memo.match('GET', long)).toEqual(trie.match('GET', long));
    expect(memo.remembered).toBe(size);
  });
});
