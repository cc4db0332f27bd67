import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from '../../dev/stand-ins/server';
import { demoUsers, demoVault, encryptWithOpenssl, type Gateway, PROJECT_ROOT, startGateway } from './harness/gateway';
import { run } from './harness/run';

// Usage records in `wrangler dev`: a streamed request's record survives the gateway being stopped
// right after it settled (before the flush to D1) and restarted on the same local state, and the
// restarted gateway's alarm writes it to D1.

const TOKEN = 'e2e-vault-token';
const users = demoUsers();
const userKey = users.ronan!.key;
const headers = { authorization: `Bearer ${userKey}`, 'content-type': 'application/json' };

describe('usage records across a restart', () => {
  let standIn: StandIn;
  let gateway: Gateway | undefined;

  beforeAll(async () => {
    standIn = await startStandIn();
  });
  afterAll(async () => {
    await gateway?.stop();
    await standIn?.close();
  });

  it('keeps a settled record through a restart, and flushes it to D1 afterwards', async () => {
    const config = demoVault(standIn.url) as { providers: Record<string, { models: Record<string, unknown>[] }> };
    Object.assign(
      config.providers.groq!.models.find((m) => m.id === 'llama-3.3-70b-versatile')!,
      { inputPrice: 0.59, outputPrice: 0.79 },
    );
    const vaultText = await encryptWithOpenssl(JSON.stringify(config), TOKEN);
    gateway = await startGateway({ vars: { AI_JSON_CRYPTOKEN: TOKEN }, users, vaultText });

    const res = await fetch(`${gateway.url}/groq/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'llama-3.3-70b-versatile', stream: true, messages: [{ role: 'user', content: 'Tell me a short story' }] }),
    });
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toContain('data: [DONE]');
    // The usage the gateway asked for stays with the gateway: no usage-only chunk reaches this client.
    expect(text).not.toMatch(/"usage":\{/);
    const id = res.headers.get('x-request-id')!;

    // Settled (durable in the user's object) as soon as the client can look it up.
    let record: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && !record; i++) {
      const lookup = await fetch(`${gateway.url}/v1/usage/requests/${id}`, { headers });
      if (lookup.status === 200) record = (await lookup.json()) as Record<string, unknown>;
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(record).toMatchObject({ id, user: 'ronan', route: 'proxy', stream: true, usage_source: 'provider' });
    expect(record!.input_tokens).toBeGreaterThan(0);
    expect(record!.output_tokens).toBeGreaterThan(0);
    const cost = ((record!.input_tokens as number) * 0.59 + (record!.output_tokens as number) * 0.79) / 1e6;
    expect(record!.cost_usd).toBeCloseTo(cost, 12);

    const stateDir = gateway.stateDir;
    await gateway.stop({ keepState: true });
    // The same local KV, D1 and Durable Objects: nothing is seeded again.
    gateway = await startGateway({ vars: { AI_JSON_CRYPTOKEN: TOKEN }, stateDir });

    const after = await fetch(`${gateway.url}/v1/usage/requests/${id}`, { headers });
    expect(after.status).toBe(200);
    expect(await after.json()).toEqual(record);

    // The restarted object's alarm flushes the pending record to D1.
    const inD1 = async () => {
      const out = await run(
        `${PROJECT_ROOT}/node_modules/.bin/wrangler`,
        [
          'd1',
          'execute',
          'DB',
          '--local',
          '--persist-to',
          `${stateDir}/persist`,
          '--json',
          '--command',
          `SELECT id, cost_usd FROM usage_records WHERE id = '${id}'`,
        ],
        { cwd: PROJECT_ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' } },
      );
      return out.stdout.includes(id);
    };
    let flushed = false;
    for (let i = 0; i < 10 && !flushed; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      flushed = await inD1();
    }
    expect(flushed).toBe(true);
  }, 240_000); // two wrangler starts and a few wrangler d1 runs
});
