import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from '../../dev/stand-ins/server';
import { demoUsers, demoVault, encryptWithOpenssl, type Gateway, startGateway } from './harness/gateway';

// Leases in wrangler dev: a burst of concurrent requests as a fresh isolate's first ones (one asks the
// user's object for a lease, the others wait for it) is answered in full, and every record arrives.
// Found by the bench: requests resumed from the asking request's context were, now and then,
// cancelled by workerd as hung (a 500), most often in a fresh isolate's first burst.

const TOKEN = 'e2e-vault-token-leases';
const BURST = 32;
const users = { ...demoUsers(), team: { key: 'sy-standin-user-team', rpm: 1_000_000 } };
const headers = { authorization: `Bearer ${users.team.key}`, 'content-type': 'application/json' };

describe('leases under a burst', () => {
  let standIn: StandIn;
  let gateway: Gateway | undefined;

  beforeAll(async () => {
    standIn = await startStandIn();
    const vaultText = await encryptWithOpenssl(JSON.stringify(demoVault(standIn.url)), TOKEN);
    gateway = await startGateway({ vars: { AI_JSON_CRYPTOKEN: TOKEN }, users, vaultText });
  });
  afterAll(async () => {
    await gateway?.stop();
    await standIn?.close();
  });

  it(`answers ${BURST} concurrent first requests of one user in full, three bursts over, and records each`, async () => {
    const ids: string[] = [];
    for (let burst = 0; burst < 3; burst++) {
      const answers = await Promise.all(
        Array.from({ length: BURST }, () =>
          fetch(`${gateway!.url}/groq/v1/chat/completions`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'hi' }] }),
          }),
        ),
      );
      const statuses = await Promise.all(answers.map(async (res) => `${res.status} ${res.status === 200 ? '' : await res.text()}`.trim()));
      expect(statuses).toEqual(Array.from({ length: BURST }, () => '200'));
      ids.push(...answers.map((res) => res.headers.get('x-request-id')!));
    }
    let requests = 0;
    for (let i = 0; i < 100 && requests < ids.length; i++) {
      requests = ((await (await fetch(`${gateway!.url}/v1/usage`, { headers })).json()) as { requests: number }).requests;
      if (requests < ids.length) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(requests).toBe(ids.length);
  }, 60_000);
});
