import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startUnifiedRig, type UnifiedRig } from '../unified-setup';
import { type ClosedNetwork, closeNetwork } from './offline';
import { type Tap, tapGateway } from './tap';

// What each agent test file runs a CLI against: the gateway in wrangler dev and the stand-ins, a tap
// in front of the gateway, the closed network, and a temporary directory for the runs' homes.

export interface AgentRig {
  rig: UnifiedRig;
  tap: Tap;
  network: ClosedNetwork;
  /** Where each run makes its home and workspace; removed after the file. */
  dir: string;
}

/**
 * Registers the file's hooks and returns the object they fill: its fields are there from `beforeAll`
 * on, and every test starts with the stand-ins and the tap emptied. `name` names the directory.
 */
export function agentRig(name: string): AgentRig {
  const ctx = {} as AgentRig;
  beforeAll(async () => {
    ctx.rig = await startUnifiedRig();
    ctx.tap = await tapGateway(ctx.rig.gateway.url);
    ctx.network = await closeNetwork();
    ctx.dir = await mkdtemp(join(tmpdir(), `switchyard-${name}-`));
  });
  // `?.`: beforeAll may have failed before starting them all.
  afterAll(async () => {
    await ctx.tap?.close();
    await ctx.rig?.stop();
    await ctx.network?.close();
    if (ctx.dir) await rm(ctx.dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    ctx.rig.standIn.reset();
    ctx.tap.exchanges.length = 0;
  });
  return ctx;
}
