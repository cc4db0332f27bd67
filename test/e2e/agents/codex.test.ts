import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../harness/gateway';
import { run } from '../harness/run';
import { PROVIDERS } from '../conformance/matrix';
import { startUnifiedRig, type UnifiedRig } from '../unified-setup';
import { type ClosedNetwork, closeNetwork } from './offline';

// The real Codex CLI (`codex exec`) against the gateway's /v1/responses in wrangler dev and the
// stand-ins: one model per wire protocol, each answering with a call of Codex's shell tool
// (`exec_command`), then with text once the command's output is back. The network is closed.

const CODEX = join(PROJECT_ROOT, 'node_modules/.bin/codex');
const PROMPT = 'Run `echo codex-was-here > marker.txt` please';

let rig: UnifiedRig;
let network: ClosedNetwork;
let dir: string;

beforeAll(async () => {
  rig = await startUnifiedRig();
  network = await closeNetwork();
  dir = await mkdtemp(join(tmpdir(), 'switchyard-codex-'));
});
afterAll(async () => {
  await rig?.stop();
  await network?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(() => rig.standIn.reset());

/**
 * Codex pointed at the gateway: a model provider speaking the Responses API, no telemetry or update
 * check, commands run without asking (in the workspace-write sandbox), and none of the tools the
 * gateway cannot translate for every provider (hosted web search, the sub-agent `namespace` tool).
 */
const configToml = (gateway: string, model: string) => `
model = "${model}"
model_provider = "switchyard"
approval_policy = "never"
sandbox_mode = "workspace-write"
web_search = "disabled"
check_for_update_on_startup = false

[model_providers.switchyard]
name = "Switchyard"
base_url = "${gateway}/v1"
env_key = "SWITCHYARD_KEY"
wire_api = "responses"

[features]
goals = false
image_generation = false
apps = false
plugins = false
remote_plugin = false
plugin_sharing = false
in_app_updates = false
api_key_model_discovery = false

[agents]
enabled = false

[analytics]
enabled = false

[otel]
exporter = "none"
`;

type Event = Record<string, any>;

async function codex(model: string, name: string) {
  const home = await mkdtemp(join(dir, `${name}-home-`));
  const workspace = await mkdtemp(join(dir, `${name}-workspace-`));
  await writeFile(join(home, 'config.toml'), configToml(rig.gateway.url, model));
  const result = await run(CODEX, ['exec', '--skip-git-repo-check', '--json', PROMPT], {
    cwd: workspace,
    env: { PATH: process.env.PATH, HOME: home, CODEX_HOME: home, SWITCHYARD_KEY: rig.userKey, ...network.env },
  });
  const events: Event[] = result.stdout
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
  return { ...result, events, workspace };
}

describe.each(Object.entries(PROVIDERS))('Codex → %s', (provider, model) => {
  it('runs one shell command, then answers; nothing leaves the machine', async () => {
    const { code, stderr, events, workspace } = await codex(model, provider.replace(/\W/g, ''));
    expect(code, stderr).toBe(0);
    expect(events.filter((e) => e.type === 'turn.failed' || e.type === 'error')).toEqual([]);

    const items = events.filter((e) => e.type === 'item.completed').map((e) => e.item);
    const commands = items.filter((item) => item.type === 'command_execution');
    expect(commands).toEqual([
      expect.objectContaining({ command: expect.stringContaining('echo codex-was-here > marker.txt'), exit_code: 0, status: 'completed' }),
    ]);
    expect(await readFile(join(workspace, 'marker.txt'), 'utf8')).toBe('codex-was-here\n');

    // The stand-ins echo the last user text (for some providers Codex's environment context, then the prompt).
    const answer = items.filter((item) => item.type === 'agent_message').at(-1);
    expect(answer?.text).toMatch(/^Echo: /);
    expect(answer?.text.endsWith(PROMPT)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'turn.completed' });

    // Both turns went upstream through the gateway, the second carrying the command's result.
    const upstream = rig.standIn.requests.filter((r) => r.method === 'POST');
    expect(upstream).toHaveLength(2);
    expect(upstream[1]!.body).toContain('Process exited with code 0');
    expect(network.attempts).toEqual([]);
  });
});
