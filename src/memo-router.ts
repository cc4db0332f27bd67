import type { Result, Router } from 'hono/router';
import { TrieRouter } from 'hono/router/trie-router';

// Hono's fast RegExpRouter refuses this route set (a `:provider` segment beside static first segments
// such as `/v1/models/:model{.+}`), so the app runs on the TrieRouter, whose search walks the trie and
// builds new param objects on every request: ~5 % of the gateway's CPU under load (bench/profile.ts).
// Nothing in Hono remembers a match, and a path's match depends only on the method, the path and the
// routes added, so this router remembers the last ones. Hono only reads a match, never changes it.

/** Paths longer than this are matched every time: a client choosing long paths cannot fill memory. */
const MAX_MEMO_PATH = 256;
/** Matches remembered at most; when full, the memo starts over (a client sending ever new paths gets the trie's speed). */
export const MAX_MEMO_ENTRIES = 512;

/** The TrieRouter, with the matches of recent method and path pairs remembered. */
export class MemoRouter<T> implements Router<T> {
  readonly name = 'MemoRouter';
  private readonly trie = new TrieRouter<T>();
  private readonly memo = new Map<string, Result<T>>();

  add(method: string, path: string, handler: T): void {
    this.memo.clear();
    this.trie.add(method, path, handler);
  }

  match(method: string, path: string): Result<T> {
    if (path.length > MAX_MEMO_PATH) return this.trie.match(method, path);
    const key = `${method} ${path}`;
    let result = this.memo.get(key);
    if (result) return result;
    result = this.trie.match(method, path);
    if (this.memo.size >= MAX_MEMO_ENTRIES) this.memo.clear();
    this.memo.set(key, result);
    return result;
  }

  /** How many matches are remembered (tests). */
  get remembered(): number {
    return this.memo.size;
  }
}
