import { afterEach, describe, expect, it, vi } from 'vitest';
import app from '../../../src/app';
import type { Bindings } from '../../../src/env';
import { clearUsersCache } from '../../../src/users/store';
import { digestText } from '../../../src/vault/crypto';
import { makeEnv, USER_KEY, userHeaders } from '../helpers/env';
import { VAULT_TOKEN } from '../helpers/vault';

// The operator's users API: every call, every refusal, hand-written users, concurrent changes.

afterEach(() => {
  vi.restoreAllMocks();
});

const operator = (token = VAULT_TOKEN) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
const send = (env: Bindings, method: string, path: string, body?: unknown, headers: Record<string, string> = operator()) =>
  app.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }, env);

/** The users map as stored in KV. */
const storedUsers = async (env: Bindings) => JSON.parse((await env.KV_AI_PROXY.get('users'))!) as Record<string, Record<string, unknown>>;

/** Does this key pass user auth right now? (200 on the catalog; 401 unknown, 403 disabled) */
const userStatus = async (env: Bindings, key: string) => (await app.request('/v1/providers', { headers: userHeaders(key) }, env)).status;

const HAND_WRITTEN = {
  tester: { id: 'tester', key: USER_KEY, team: 'core', notes: { since: 2024 } },
  audrey: {
    id: 'audrey',
    key: 'sy-audrey-handwritten-key-0001',
    rpm: 30,
    providers: ['groq'],
    models: ['groq/llama-3.3-70b-versatile'],
    disabled: false,
    extra: [1, 2],
  },
};

const ROUTES: [string, string, unknown?][] = [
  ['GET', '/admin/users'],
  ['POST', '/admin/users', { name: 'someone' }],
  ['PATCH', '/admin/users/tester', { rpm: 5 }],
  ['POST', '/admin/users/tester/rotate'],
  ['DELETE', '/admin/users/tester'],
];

describe('operator credential', () => {
  it.each([
    ['no credential', {}],
    ['a user key', userHeaders()],
    ['a wrong token', operator('not-the-vault-token')],
    ['the token with a suffix', operator(`${VAULT_TOKEN}x`)],
  ])('%s is refused with 401 on every users route, and nothing changes', async (_, headers) => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    const before = await env.KV_AI_PROXY.get('users');
    for (const [method, path, body] of ROUTES) {
      const res = await send(env, method, path, body, headers as Record<string, string>);
      expect(res.status, `${method} ${path}`).toBe(401);
      const text = await res.text();
      expect(JSON.parse(text).error.type).toBe('authentication_error');
      expect(text).not.toContain(USER_KEY);
    }
    expect(await env.KV_AI_PROXY.get('users')).toBe(before);
  });

  it('with ADMIN_TOKEN set, only ADMIN_TOKEN is the operator credential (not the vault token)', async () => {
    const env = await makeEnv({ vars: { ADMIN_TOKEN: 'sy-admin-token-0123456789abcdef' } });
    expect((await send(env, 'GET', '/admin/users')).status).toBe(401);
    expect((await send(env, 'GET', '/admin/users', undefined, operator('sy-admin-token-0123456789abcdef'))).status).toBe(200);
  });
});

describe('GET /admin/users', () => {
  it('lists every user with its limits and a key hint, never a key or a digest', async () => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    const created = await (
      await send(env, 'POST', '/admin/users', { name: 'carol', monthlyBudgetUsd: 12.5, dailyTokens: 100000 })
    ).json<{ key: string; id: string }>();
    expect(created.id).toMatch(/^u_[A-Za-z0-9_-]{22}$/);
    const res = await send(env, 'GET', '/admin/users');
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      object: 'list',
      data: [
        {
          name: 'tester',
          id: 'tester',
          keyHint: USER_KEY.slice(-4),
          rpm: null,
          providers: null,
          models: null,
          disabled: false,
          expiresAt: null,
          monthlyBudgetUsd: null,
          dailyTokens: null,
        },
        {
          name: 'audrey',
          id: 'audrey',
          keyHint: '0001',
          rpm: 30,
          providers: ['groq'],
          models: ['groq/llama-3.3-70b-versatile'],
          disabled: false,
          expiresAt: null,
          monthlyBudgetUsd: null,
          dailyTokens: null,
        },
        {
          name: 'carol',
          id: created.id,
          keyHint: created.key.slice(-4),
          rpm: null,
          providers: null,
          models: null,
          disabled: false,
          expiresAt: null,
          monthlyBudgetUsd: 12.5,
          dailyTokens: 100000,
        },
      ],
    });
    for (const secret of [USER_KEY, HAND_WRITTEN.audrey.key, created.key, await digestText(created.key), await digestText(USER_KEY)]) {
      expect(text).not.toContain(secret);
    }
  });
});

describe('POST /admin/users', () => {
  it('creates a user with a generated key (256 random bits), shown once, stored only as its SHA-256', async () => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    const res = await send(env, 'POST', '/admin/users', { name: 'dave', rpm: 20, providers: ['groq'], expiresAt: '2099-01-01T00:00:00Z' });
    expect(res.status).toBe(201);
    const body = await res.json<{ name: string; key: string; keyHint: string; rpm: number }>();
    expect(body).toMatchObject({ name: 'dave', rpm: 20, providers: ['groq'], expiresAt: '2099-01-01T00:00:00Z', keyHint: body.key.slice(-4) });
    // "sy-" and 43 base64url characters: 32 random bytes.
    expect(body.key).toMatch(/^sy-[A-Za-z0-9_-]{43}$/);
    const stored = await storedUsers(env);
    expect(stored.dave).toEqual({
      id: expect.stringMatching(/^u_[A-Za-z0-9_-]{22}$/),
      keySha256: await digestText(body.key),
      keyHint: body.key.slice(-4),
      rpm: 20,
      providers: ['groq'],
      expiresAt: '2099-01-01T00:00:00Z',
    });
    expect(JSON.stringify(stored)).not.toContain(body.key);
    // Live at once on this isolate: the key authenticates and the allow-list applies.
    expect(await userStatus(env, body.key)).toBe(200);
    // The key is never shown again.
    expect(await (await send(env, 'GET', '/admin/users')).text()).not.toContain(body.key);
  });

  it('two users never get the same key', async () => {
    const env = await makeEnv({ users: {} });
    const keys = new Set<string>();
    for (const name of ['k1', 'k2', 'k3', 'k4']) keys.add((await (await send(env, 'POST', '/admin/users', { name })).json<{ key: string }>()).key);
    expect(keys.size).toBe(4);
  });

  it('409 when the name exists (hand-written or created), and the user stays as it was', async () => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    const res = await send(env, 'POST', '/admin/users', { name: 'audrey' });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: { code: 'user_exists', message: 'user "audrey" already exists' } });
    expect((await storedUsers(env)).audrey).toEqual(HAND_WRITTEN.audrey);
  });

  it.each([
    ['a missing name', {}, 'name'],
    ['a name with a slash', { name: 'a/b' }, 'name'],
    ['a negative rpm', { name: 'x', rpm: -1 }, 'rpm'],
    ['a fractional rpm', { name: 'x', rpm: 1.5 }, 'rpm'],
    ['providers not a list', { name: 'x', providers: 'groq' }, 'providers'],
    ['a bad expiresAt', { name: 'x', expiresAt: 'soon' }, 'expiresAt'],
    ['a negative budget', { name: 'x', monthlyBudgetUsd: -5 }, 'monthlyBudgetUsd'],
    ['a fractional dailyTokens', { name: 'x', dailyTokens: 0.5 }, 'dailyTokens'],
    ['a field the API does not set', { name: 'x', key: 'my-own-key' }, 'key'],
    ['disabled as text', { name: 'x', disabled: 'yes' }, 'disabled'],
  ])('400 naming the field for %s, and nothing is stored', async (_, body, field) => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    const res = await send(env, 'POST', '/admin/users', body);
    expect(res.status).toBe(400);
    const { error } = await res.json<{ error: { message: string; type: string } }>();
    expect(error.type).toBe('invalid_request_error');
    expect(error.message).toContain(field);
    expect(await storedUsers(env)).toEqual(HAND_WRITTEN);
  });

  it('400 for a body that is not JSON', async () => {
    const env = await makeEnv();
    const res = await app.request('/admin/users', { method: 'POST', headers: operator(), body: '{name:' }, env);
    expect(res.status).toBe(400);
    expect((await res.json<{ error: { type: string } }>()).error.type).toBe('invalid_request_error');
  });

  it('starts the map when KV holds none, keeping the users of DEV_USERS_JSON', async () => {
    const env = await makeEnv({ users: null, vars: { DEV_USERS_JSON: JSON.stringify({ local: { key: 'sy-local-dev-key' } }) } });
    expect((await send(env, 'POST', '/admin/users', { name: 'erin' })).status).toBe(201);
    expect(Object.keys(await storedUsers(env))).toEqual(['local', 'erin']);
    expect(await userStatus(env, 'sy-local-dev-key')).toBe(200);
  });
});

describe('PATCH /admin/users/:name', () => {
  it('sets limits, and null removes them', async () => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    let res = await send(env, 'PATCH', '/admin/users/audrey', {
      rpm: 5,
      models: null,
      monthlyBudgetUsd: 3,
      dailyTokens: 5000,
      expiresAt: '2099-06-01T00:00:00Z',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      name: 'audrey',
      id: 'audrey',
      keyHint: '0001',
      rpm: 5,
      providers: ['groq'],
      models: null,
      disabled: false,
      expiresAt: '2099-06-01T00:00:00Z',
      monthlyBudgetUsd: 3,
      dailyTokens: 5000,
    });
    res = await send(env, 'PATCH', '/admin/users/audrey', { rpm: null, providers: null });
    expect(await res.json()).toMatchObject({ rpm: null, providers: null, monthlyBudgetUsd: 3 });
    // The hand-written key and the unknown field are still there.
    expect((await storedUsers(env)).audrey).toEqual({
      id: 'audrey',
      key: HAND_WRITTEN.audrey.key,
      disabled: false,
      extra: [1, 2],
      monthlyBudgetUsd: 3,
      dailyTokens: 5000,
      expiresAt: '2099-06-01T00:00:00Z',
    });
  });

  it('disabling a user refuses its key at once on this isolate; enabling lets it in again', async () => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    expect(await userStatus(env, USER_KEY)).toBe(200);
    expect((await send(env, 'PATCH', '/admin/users/tester', { disabled: true })).status).toBe(200);
    expect(await userStatus(env, USER_KEY)).toBe(403);
    expect((await send(env, 'PATCH', '/admin/users/tester', { disabled: false })).status).toBe(200);
    expect(await userStatus(env, USER_KEY)).toBe(200);
  });

  it('404 for an unknown user; 400 naming a bad field', async () => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    const missing = await send(env, 'PATCH', '/admin/users/nobody', { rpm: 5 });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'user_not_found' } });
    const bad = await send(env, 'PATCH', '/admin/users/audrey', { rpm: 0 });
    expect(bad.status).toBe(400);
    expect((await bad.json<{ error: { message: string } }>()).error.message).toContain('rpm');
    const unknown = await send(env, 'PATCH', '/admin/users/audrey', { keySha256: 'ab'.repeat(32) });
    expect(unknown.status).toBe(400);
    expect((await unknown.json<{ error: { message: string } }>()).error.message).toContain('keySha256');
    expect(await storedUsers(env)).toEqual(HAND_WRITTEN);
  });

  it('addresses names that need escaping in a URL', async () => {
    const env = await makeEnv({ users: { 'ana maria': { key: 'sy-ana-maria-key-000' } } });
    const res = await send(env, 'PATCH', `/admin/users/${encodeURIComponent('ana maria')}`, { rpm: 7 });
    expect(res.status).toBe(200);
    expect((await storedUsers(env))['ana maria']).toEqual({ id: 'ana maria', key: 'sy-ana-maria-key-000', rpm: 7 });
  });
});

describe('POST /admin/users/:name/rotate', () => {
  it('gives a new key; the old one is refused at once on this isolate', async () => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    const created = await (await send(env, 'POST', '/admin/users', { name: 'frank' })).json<{ key: string }>();
    expect(await userStatus(env, created.key)).toBe(200);
    const res = await send(env, 'POST', '/admin/users/frank/rotate');
    expect(res.status).toBe(200);
    const rotated = await res.json<{ name: string; key: string; keyHint: string }>();
    expect(rotated).toMatchObject({ name: 'frank', keyHint: rotated.key.slice(-4) });
    expect(rotated.key).not.toBe(created.key);
    expect(await userStatus(env, created.key)).toBe(401);
    expect(await userStatus(env, rotated.key)).toBe(200);
  });

  it('a hand-written user loses its plaintext key and keeps everything else', async () => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    const rotated = await (await send(env, 'POST', '/admin/users/tester/rotate')).json<{ key: string }>();
    expect(await userStatus(env, USER_KEY)).toBe(401);
    expect(await userStatus(env, rotated.key)).toBe(200);
    expect((await storedUsers(env)).tester).toEqual({
      id: 'tester',
      team: 'core',
      notes: { since: 2024 },
      keySha256: await digestText(rotated.key),
      keyHint: rotated.key.slice(-4),
    });
  });

  it('404 for an unknown user', async () => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    expect((await send(env, 'POST', '/admin/users/nobody/rotate')).status).toBe(404);
  });
});

describe('DELETE /admin/users/:name', () => {
  it('204, and the key is refused at once; 404 the second time', async () => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    const res = await send(env, 'DELETE', '/admin/users/tester');
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    expect(await userStatus(env, USER_KEY)).toBe(401);
    expect(await storedUsers(env)).toEqual({ audrey: HAND_WRITTEN.audrey });
    expect((await send(env, 'DELETE', '/admin/users/tester')).status).toBe(404);
  });
});

describe('the users map shared with hand-written edits', () => {
  it('hand-written users keep working and keep every unknown field through changes to others', async () => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    await send(env, 'POST', '/admin/users', { name: 'gina' });
    await send(env, 'PATCH', '/admin/users/gina', { rpm: 9 });
    await send(env, 'DELETE', '/admin/users/gina');
    expect(await storedUsers(env)).toEqual(HAND_WRITTEN);
    expect(await userStatus(env, USER_KEY)).toBe(200);
    expect(await userStatus(env, HAND_WRITTEN.audrey.key)).toBe(200);
  });

  it('a hand edit in KV after an API change is the base of the next change', async () => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    await send(env, 'POST', '/admin/users', { name: 'hank' });
    // `wrangler kv key put users …` replaces the value and drops its metadata.
    const edited = { ...(await storedUsers(env)), ivan: { key: 'sy-ivan-by-hand-0000' } };
    await env.KV_AI_PROXY.put('users', JSON.stringify(edited));
    await send(env, 'PATCH', '/admin/users/hank', { rpm: 3 });
    const stored = await storedUsers(env);
    expect(Object.keys(stored)).toEqual(['tester', 'audrey', 'hank', 'ivan']);
    expect(stored.hank!.rpm).toBe(3);
  });

  it('a stale KV read (an older revision than the directory wrote) never undoes a change', async () => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    await send(env, 'POST', '/admin/users', { name: 'jo' });
    // KV serving an older value somewhere: the revision in its metadata says it is older.
    await env.KV_AI_PROXY.put('users', JSON.stringify(HAND_WRITTEN), { metadata: { revision: 0 } });
    clearUsersCache();
    expect((await (await send(env, 'GET', '/admin/users')).json<{ data: { name: string }[] }>()).data.map((u) => u.name)).toEqual(['tester', 'audrey', 'jo']);
    await send(env, 'PATCH', '/admin/users/jo', { rpm: 4 });
    expect(Object.keys(await storedUsers(env))).toEqual(['tester', 'audrey', 'jo']);
  });

  it('an invalid map in KV is never overwritten by a change', async () => {
    const env = await makeEnv();
    await env.KV_AI_PROXY.put('users', '{"broken": {"rpm": 5}}');
    const res = await send(env, 'POST', '/admin/users', { name: 'kim' });
    expect(res.status).toBe(500);
    expect((await res.json<{ error: { message: string } }>()).error.message).toContain('fix it by hand');
    expect(await env.KV_AI_PROXY.get('users')).toBe('{"broken": {"rpm": 5}}');
  });

  it('another isolate (an empty cache) sees a change made through the API', async () => {
    const env = await makeEnv({ users: HAND_WRITTEN });
    const created = await (await send(env, 'POST', '/admin/users', { name: 'lee' })).json<{ key: string }>();
    clearUsersCache();
    expect(await userStatus(env, created.key)).toBe(200);
  });
});

describe('concurrent changes', () => {
  it('30 simultaneous changes (creates, patches, a rotate, deletes) all survive', async () => {
    const env = await makeEnv({ users: { ...HAND_WRITTEN, old1: { key: 'sy-old-user-1-key' }, old2: { key: 'sy-old-user-2-key' } } });
    const creates = Array.from({ length: 24 }, (_, i) => send(env, 'POST', '/admin/users', { name: `team-${i}`, rpm: i + 1 }));
    const others = [
      send(env, 'PATCH', '/admin/users/audrey', { rpm: 77 }),
      send(env, 'PATCH', '/admin/users/tester', { dailyTokens: 1234 }),
      send(env, 'POST', '/admin/users/tester/rotate'),
      send(env, 'DELETE', '/admin/users/old1'),
      send(env, 'DELETE', '/admin/users/old2'),
      send(env, 'PATCH', '/admin/users/audrey', { monthlyBudgetUsd: 9 }),
    ];
    const answers = await Promise.all([...creates, ...others]);
    expect(answers.map((r) => r.status)).toEqual([...Array(24).fill(201), 200, 200, 200, 204, 204, 200]);
    const stored = await storedUsers(env);
    expect(Object.keys(stored).sort()).toEqual(['audrey', 'tester', ...Array.from({ length: 24 }, (_, i) => `team-${i}`)].sort());
    for (let i = 0; i < 24; i++) expect(stored[`team-${i}`]!.rpm).toBe(i + 1);
    expect(stored.audrey).toMatchObject({ rpm: 77, monthlyBudgetUsd: 9, extra: [1, 2] });
    expect(stored.tester).toMatchObject({ dailyTokens: 1234, team: 'core' });
    expect(stored.tester!.key).toBeUndefined();
    // Every created key works from a fresh cache too.
    clearUsersCache();
    for (const res of answers.slice(0, 24)) expect(await userStatus(env, (await res.clone().json<{ key: string }>()).key)).toBe(200);
  }, 60_000);
});
