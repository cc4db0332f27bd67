import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import app from '../../src/app';
import type { Bindings } from '../../src/env';
import { makeEnv, USER_KEY } from './helpers/env';
import { GATEWAY_COMPAT, keysOf, sealVault, testConfig, VAULT_TOKEN } from './helpers/vault';
import { chunk, controlledStream, hang, sseResponse } from './helpers/upstreams';

// Everything the worker prints, across success, failover, timeouts, broken streams, failed logins,
// lockouts, rate limits, vault writes and DEBUG logging, must name no provider key, no user key, no
// token and no prompt.

const AIG_TOKEN = 'aig-log-token-0c4f2b';
const OTHER_USER_KEY = 'sy-user-key-limited-55aa';
const PROMPT = 'PROMPT-CANARY-do-not-log-8812';
const CONFIG = testConfig();
CONFIG.providers.groq = {
  ...CONFIG.providers.groq,
  gatewayEndpoint: GATEWAY_COMPAT,
  keys: [{ key: 'gsk-log-key-a-111' }, { key: 'gsk-log-key-b-222' }],
};
CONFIG.providers.openai = { ...CONFIG.providers.openai, keys: [{ key: 'sk-log-key-c-333' }, { key: 'sk-log-key-d-444' }] };
const SECRETS = [...keysOf(CONFIG), USER_KEY, OTHER_USER_KEY, VAULT_TOKEN, AIG_TOKEN, PROMPT];

const printed: string[] = [];
let env: Bindings;

beforeAll(async () => {
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      printed.push(args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? `${a.message}\n${a.stack}` : JSON.stringify(a))).join(' '));
    });
  }
  env = await makeEnv({
    config: CONFIG,
    users: { tester: { key: USER_KEY }, limited: { key: OTHER_USER_KEY, rpm: 1 } },
    vars: {
      DEBUG: 'true',
      CLOUDFLARE_AIG_TOKEN: AIG_TOKEN,
      CLOUDFLARE_ACCOUNT_ID: 'acct-logs',
      AUTH_FAILURE_LIMIT: '2',
      UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '100',
    },
  });
});
afterAll(() => vi.restoreAllMocks());

const chatBody = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: PROMPT }], ...extra });
const user = (key = USER_KEY, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json', ...extra });
const echo = (input: RequestInfo | URL, init?: RequestInit) => {
  const headers = new Headers(init?.headers);
  return `key ${headers.get('authorization')} token ${headers.get('cf-aig-authorization')} url ${String(input)} body ${String(init?.body)}`;
};

async function upstream(answer: (input: RequestInfo | URL, init: RequestInit | undefined, n: number) => Response | Promise<Response>) {
  let n = 0;
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => answer(input, init, n++));
}

describe('log output', () => {
  it('never contains a provider key, a user key, a token or a prompt', async () => {
    const post = async (path: string, body = chatBody(), headers = user()) => (await app.request(path, { method: 'POST', headers, body }, env)).text();

    // Success, directly and through AI Gateway.
    await upstream(() => Response.json({ id: 'c', object: 'chat.completion', choices: [] }));
    await post('/openai/v1/chat/completions');
    await post('/groq/v1/chat/completions', chatBody({ model: 'llama-3.3-70b-versatile' }));
    // A stream that breaks off, and one that is not JSON.
    await upstream((_, __, n) => {
      if (n === 0) return sseResponse(`data: {"half":"${PROMPT}`);
      const stream = controlledStream();
      stream.send(chunk(PROMPT));
      stream.fail();
      return sseResponse(stream.body);
    });
    await post('/openai/v1/chat/completions', chatBody({ stream: true }));
    // Failover: errors that echo the key, the token and the prompt; a network error; a timeout.
    await upstream((input, init, n) => {
      if (n % 3 === 0) return Response.json({ error: { message: echo(input, init) } }, { status: 401 });
      if (n % 3 === 1) throw new TypeError(`connection reset while sending ${echo(input, init)}`);
      return hang(init?.signal);
    });
    await post('/openai/v1/chat/completions');
    await post('/openai/v1/chat/completions');
    await post('/groq/v1/chat/completions', chatBody({ model: 'llama-3.3-70b-versatile' }));
    // Unified routes.
    await upstream((input, init) => Response.json({ error: { message: echo(input, init) } }, { status: 500 }));
    await post('/v1/chat/completions');
    await post('/v1/messages', JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 9, messages: [{ role: 'user', content: PROMPT }] }));
    // Failed logins until lockout, for user keys and the vault token; a disabled limiter object.
    for (const key of ['wrong-1', 'wrong-2', USER_KEY])
      await post('/openai/v1/chat/completions', chatBody(), user(key, { 'cf-connecting-ip': '203.0.113.50' }));
    for (const token of ['bad-token', VAULT_TOKEN])
      await app.request('/ai.json', { headers: { authorization: `Bearer ${token}`, 'cf-connecting-ip': '203.0.113.51' } }, env);
    await app.request('/v1/providers', { headers: user(OTHER_USER_KEY) }, { ...env, USER_METER: undefined as unknown as Bindings['USER_METER'] });
    // The per-user rate limit.
    await app.request('/v1/providers', { headers: user(OTHER_USER_KEY) }, env);
    await app.request('/v1/providers', { headers: user(OTHER_USER_KEY) }, env);
    // Vault reads and writes, good and bad.
    await app.request('/ai.json', { headers: { authorization: `Bearer ${VAULT_TOKEN}` } }, env);
    await app.request(
      '/ai.json.enc',
      { method: 'PUT', headers: { authorization: `Bearer ${VAULT_TOKEN}` }, body: await sealVault(CONFIG, { fresh: true }) },
      env,
    );
    await app.request(
      '/ai.json.enc',
      { method: 'PUT', headers: { authorization: `Bearer ${VAULT_TOKEN}` }, body: await sealVault({ providers: { x: { key: AIG_TOKEN } } }) },
      env,
    );
    await app.request(
      '/ai.json.enc',
      { method: 'PUT', headers: { authorization: `Bearer ${VAULT_TOKEN}` }, body: await sealVault(CONFIG, { token: 'another-token' }) },
      env,
    );

    const output = printed.join('\n');
    // The capture works, and saw the events that matter.
    for (const event of ['attempt_failed', 'stream_failed', 'auth_failed', 'rate_limiter_unavailable']) expect(output).toContain(event);
    for (const secret of SECRETS) expect(output, `log output names ${secret}`).not.toContain(secret);
  }, 60_000);
});
