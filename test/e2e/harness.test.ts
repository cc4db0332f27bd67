import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from '../../dev/stand-ins/server';
import { decryptWithOpenssl, demoUsers, demoVault, encryptWithOpenssl, type Gateway, startGateway, uncaughtLines } from './harness/gateway';

const TOKEN = 'harness-vault-token';
const users = demoUsers();

describe('e2e harness: wrangler dev with seeded KV, vault encrypted by openssl', () => {
  let standIn: StandIn;
  let gateway: Gateway;

  beforeAll(async () => {
    standIn = await startStandIn();
    const started = Date.now();
    gateway = await startGateway({ vars: { AI_JSON_CRYPTOKEN: TOKEN, DEBUG: 'true' }, users });
    console.log(`startGateway took ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    await gateway?.stop();
    await standIn?.close();
  });

  it('openssl round-trips with the vault flags, and refuses a wrong passphrase', async () => {
    const text = await encryptWithOpenssl('{"providers":{}}', TOKEN);
    expect(text).toMatch(/^U2FsdGVkX1/); // base64 of "Salted__"
    expect(text.endsWith('\n')).toBe(true);
    expect(await decryptWithOpenssl(text, TOKEN)).toBe('{"providers":{}}');
    await expect(decryptWithOpenssl(text, 'wrong')).rejects.toThrow(/openssl -d failed/);
  });

  it('stores a vault encrypted by the real openssl, then serves it to a seeded user', async () => {
    const vaultText = await encryptWithOpenssl(JSON.stringify(demoVault(standIn.url)), TOKEN);
    const put = await fetch(`${gateway.url}/ai.json.enc`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` }, body: vaultText });
    expect(put.status, await put.clone().text()).toBe(200);

    const stored = await fetch(`${gateway.url}/ai.json.enc`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await stored.text()).toBe(vaultText);

    const res = await fetch(`${gateway.url}/v1/providers`, { headers: { authorization: `Bearer ${users.ronan!.key}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { object: string; data: { id: string; protocol: string }[] };
    expect(body.object).toBe('list');
    expect(body.data.map((p) => [p.id, p.protocol]).sort()).toEqual([
      ['anthropic', 'anthropic'],
      ['gemini', 'gemini'],
      ['groq', 'openai'],
    ]);
  });

  it('refuses a key the seeded users map does not hold', async () => {
    const res = await fetch(`${gateway.url}/v1/providers`, { headers: { authorization: 'Bearer not-a-user' } });
    expect(res.status).toBe(401);
  });

  it('forwards a chat call to the stand-in and captures the worker logs', async () => {
    const res = await fetch(`${gateway.url}/groq/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${users.ronan!.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'ping' }] }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('Echo: ping');
    const upstream = standIn.requests.at(-1)!;
    expect(upstream.path).toBe('/openai/v1/chat/completions');
    expect(demoVault(standIn.url).providers.groq!.keys.map((k) => `Bearer ${k.key}`)).toContain(upstream.headers.authorization);
    const logs = await gateway.waitForLog(/POST \/groq\/v1\/chat\/completions 200/);
    expect(logs).toContain('Ready on');
    for (const secret of [TOKEN, users.ronan!.key, upstream.key!]) expect(logs).not.toContain(secret);
  });
});

describe('e2e harness: KV seeded with a vault before start', () => {
  it('serves the seeded vault text, and a developer .dev.vars cannot leak in', async () => {
    const standIn = await startStandIn();
    const vaultText = await encryptWithOpenssl(JSON.stringify(demoVault(standIn.url)), TOKEN);
    const gateway = await startGateway({ vars: { AI_JSON_CRYPTOKEN: TOKEN }, users, vaultText });
    try {
      expect(await (await fetch(`${gateway.url}/ai.json.enc`, { headers: { authorization: `Bearer ${TOKEN}` } })).text()).toBe(vaultText);
      const res = await fetch(`${gateway.url}/ai.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { providers: Record<string, unknown> }).providers).toHaveProperty('gemini');
      // wrangler reads either --env-file or .dev.vars: the harness's empty file wins over a developer's.
      expect(gateway.logs()).toMatch(/Using secrets defined in \S*empty\.env/);
      expect(gateway.logs()).not.toContain('.dev.vars');
    } finally {
      await gateway.stop();
      await standIn.close();
    }
  });
});

describe('e2e harness: the scan of wrangler output for uncaught exceptions', () => {
  it("finds workerd's uncaught lines and nothing else", () => {
    const output = [
      '[wrangler:info] POST /groq/v1/chat/completions 200 OK (12ms)',
      '✘ [ERROR] Uncaught client_closed',
      '{"level":"error","event":"usage_flush_failed"}',
      'X [ERROR] Uncaught (in promise) Error: the upstream reset',
    ].join('\n');
    expect(uncaughtLines(output)).toEqual(['✘ [ERROR] Uncaught client_closed', 'X [ERROR] Uncaught (in promise) Error: the upstream reset']);
    // workerd's own report of a client disconnect (WORKERD_DISCONNECT) is not the gateway's exception.
    expect(uncaughtLines('✘ [ERROR] Uncaught Error: Network connection lost. \n✘ [ERROR] Uncaught Error: Network connection lost in my code')).toEqual([
      '✘ [ERROR] Uncaught Error: Network connection lost in my code',
    ]);
  });

  it('finds them in colour too, as workerd prints them even with NO_COLOR set', () => {
    const esc = String.fromCharCode(27);
    const output = `${esc}[31m✘ ${esc}[41;31m[${esc}[41;97mERROR${esc}[41;31m]${esc}[0m ${esc}[1mUncaught client_closed ${esc}[0m\n`;
    expect(uncaughtLines(output)).toEqual(['✘ [ERROR] Uncaught client_closed ']);
  });
});
