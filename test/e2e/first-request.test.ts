import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from '../../dev/stand-ins/server';
import { demoUsers, demoVault, encryptWithOpenssl, type Gateway, PROJECT_ROOT, startGateway } from './harness/gateway';
import { run } from './harness/run';

// Issue 20: `wrangler dev` on a fresh state with no migration step (as a first deployment, or a bare
// `npx wrangler dev`) serves the routes that need D1 from the first request, and a later
// `wrangler d1 migrations apply` finds nothing left to apply.

const TOKEN = 'e2e-vault-token-first-request';
const users = demoUsers();
const headers = { authorization: `Bearer ${users.ronan!.key}`, 'content-type': 'application/json' };

describe('operable from the first request', () => {
  let standIn: StandIn;
  let gateway: Gateway | undefined;

  beforeAll(async () => {
    standIn = await startStandIn();
  });
  afterAll(async () => {
    await gateway?.stop();
    await standIn?.close();
  });

  it('serves /v1/usage, /admin/usage and /v1/responses (stored, continued) on an unmigrated D1; wrangler then has nothing to apply', async () => {
    const vaultText = await encryptWithOpenssl(JSON.stringify(demoVault(standIn.url)), TOKEN);
    gateway = await startGateway({ vars: { AI_JSON_CRYPTOKEN: TOKEN }, users, vaultText, migrate: false });

    const usage = await fetch(`${gateway.url}/v1/usage`, { headers });
    expect(usage.status).toBe(200);
    expect(await usage.json()).toMatchObject({ requests: 0 });
    const admin = await fetch(`${gateway.url}/admin/usage`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(admin.status).toBe(200);

    const first = await fetch(`${gateway.url}/v1/responses`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'groq/llama-3.3-70b-versatile', input: 'Say hello' }),
    });
    expect(first.status).toBe(200);
    const { id } = (await first.json()) as { id: string };
    const second = await fetch(`${gateway.url}/v1/responses`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'groq/llama-3.3-70b-versatile', input: 'And again', previous_response_id: id }),
    });
    expect(second.status).toBe(200);
    expect((await fetch(`${gateway.url}/v1/responses/${id}`, { headers })).status).toBe(200);

    // The records of those calls are looked up by their own users.
    const requestId = second.headers.get('x-request-id')!;
    let record = 0;
    for (let i = 0; i < 50 && record !== 200; i++) {
      record = (await fetch(`${gateway.url}/v1/usage/requests/${requestId}`, { headers })).status;
      if (record !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(record).toBe(200);

    const stateDir = gateway.stateDir;
    await gateway.stop({ keepState: true });
    gateway = undefined;
    const applied = await run(
      PROJECT_ROOT + '/node_modules/.bin/wrangler',
      ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', `${stateDir}/persist`],
      {
        cwd: PROJECT_ROOT,
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' },
      },
    );
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('No migrations to apply');
    await rm(stateDir, { recursive: true, force: true });
  });
});
