import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../harness/gateway';
import { PROVIDERS, type ProviderName } from '../conformance/matrix';
import { agentRig } from './agent-rig';
import { runAgent } from './run-agent';
import { sentBodies } from './tap';

// The real Codex CLI (`codex exec`) as shipped against the gateway's /v1/responses in wrangler dev
// and the stand-ins: one model per wire protocol, each answering with a call of Codex's shell tool
// (`exec_command`), then with text once the command's output is back. The network is closed.

const CODEX = join(PROJECT_ROOT, 'node_modules/.bin/codex');
// Codex's default sandbox is read-only: the command writes nothing.
const PROMPT = 'Run `echo codex-was-here` please';
const RUN_TIMEOUT_MS = 120_000;

const ctx = agentRig('codex');

/**
 * Codex pointed at the gateway, everything else as shipped (its sub-agent `namespace` tool, hosted
 * web search, its sandbox and approvals) but telemetry and the update check, and one feature that
 * reaches the network on its own: plugins, which sync the curated marketplace from github.com and
 * remote plugins from chatgpt.com at every start, whatever the model provider.
 */
const configToml = (gateway: string, model: string) => `
model = "${model}"
model_provider = "switchyard"
check_for_update_on_startup = false

[model_providers.switchyard]
name = "Switchyard"
base_url = "${gateway}/v1"
env_key = "SWITCHYARD_KEY"
wire_api = "responses"

[features]
plugins = false

[analytics]
enabled = false

[otel]
exporter = "none"
`;

type Event = Record<string, any>;

async function codex(model: string, name: string) {
  const home = await mkdtemp(join(ctx.dir, `${name}-home-`));
  const workspace = await mkdtemp(join(ctx.dir, `${name}-workspace-`));
  await writeFile(join(home, 'config.toml'), configToml(ctx.tap.url, model));
  const result = await runAgent(CODEX, ['exec', '--skip-git-repo-check', '--json', PROMPT], {
    cwd: workspace,
    env: { PATH: process.env.PATH, HOME: home, CODEX_HOME: home, SWITCHYARD_KEY: ctx.rig.userKey, ...ctx.network.env },
    timeoutMs: RUN_TIMEOUT_MS,
  });
  const events: Event[] = result.stdout
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
  return { ...result, events };
}

/**
 * Where Codex's hosted `web_search` tool goes: to the provider's own search tool where it has one;
 * dropped, and named in the answer's X-Switchyard-Dropped-Tools, where it has none.
 */
const WEB_SEARCH: Record<ProviderName, { upstream?: RegExp; dropped?: string }> = {
  'OpenAI-protocol': { dropped: 'web_search' },
  Anthropic: { upstream: /"type":"web_search_\d+"/ },
  Gemini: { upstream: /"googleSearch":\{/ },
};

describe.each(Object.entries(PROVIDERS) as [ProviderName, string][])('Codex → %s', (provider, model) => {
  it('with its default tools, runs one shell command, then answers; nothing leaves the machine', { timeout: RUN_TIMEOUT_MS + 30_000 }, async () => {
    const { code, stderr, timedOut, events } = await codex(model, provider.replace(/\W/g, ''));
    expect(timedOut, stderr).toBe(false);
    expect(code, stderr).toBe(0);
    expect(events.filter((e) => e.type === 'turn.failed' || e.type === 'error')).toEqual([]);

    const items = events.filter((e) => e.type === 'item.completed').map((e) => e.item);
    const commands = items.filter((item) => item.type === 'command_execution');
    expect(commands).toEqual([
      expect.objectContaining({
        command: expect.stringContaining('echo codex-was-here'),
        aggregated_output: 'codex-was-here\n',
        exit_code: 0,
        status: 'completed',
      }),
    ]);

    // The stand-ins echo the last user text (for some providers Codex's environment context, then the prompt).
    const answer = items.filter((item) => item.type === 'agent_message').at(-1);
    expect(answer?.text).toMatch(/^Echo: /);
    expect(answer?.text.endsWith(PROMPT)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'turn.completed' });

    // What Codex sends as shipped: its sub-agent tools as a `namespace` and hosted web search, every turn.
    const sent = sentBodies(ctx.tap, '/v1/responses');
    expect(sent).toHaveLength(2);
    for (const body of sent) expect(body.tools.map((tool: { type: string }) => tool.type)).toEqual(expect.arrayContaining(['namespace', 'web_search']));
    expect(ctx.tap.exchanges.map((e) => e.status)).toEqual([200, 200]);

    // Both turns went upstream through the gateway, the second carrying the command's result; the
    // namespace's tools went as the provider's functions, web search where the provider has it.
    const upstream = ctx.rig.standIn.requests.filter((r) => r.method === 'POST');
    expect(upstream).toHaveLength(2);
    expect(upstream[1]!.body).toContain('codex-was-here');
    const search = WEB_SEARCH[provider];
    for (const [turn, request] of upstream.entries()) {
      expect(request.body).toContain('spawn_agent');
      if (search.upstream) expect(request.body).toMatch(search.upstream);
      expect(ctx.tap.exchanges[turn]!.responseHeaders['x-switchyard-dropped-tools']).toBe(search.dropped);
    }
    expect(ctx.network.attempts).toEqual([]);
  });
});
