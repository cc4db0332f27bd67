import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { PROVIDERS } from '../conformance/matrix';
import { PROJECT_ROOT } from '../harness/gateway';
import { agentRig } from './agent-rig';
import { runAgent } from './run-agent';
import { sentBodies } from './tap';
import { WEATHER_PROMPT, WEATHER_RESULT, weatherCalls, weatherServer } from './weather-server';

// The real OpenCode CLI (`opencode run`, JSON events) as shipped, with the gateway as an
// OpenAI-compatible provider in its config, against wrangler dev and the stand-ins: one model per
// wire protocol through /v1/chat/completions, each answering with a call of an MCP tool, then with
// text once the tool's result is back. The network is closed.

const OPENCODE = join(PROJECT_ROOT, 'node_modules/.bin/opencode');
const RUN_TIMEOUT_MS = 150_000;

/**
 * The one request OpenCode makes outside the gateway that nothing switches off: at every start it
 * installs its plugin SDK (`@opencode-ai/plugin`) into its config directory from registry.npmjs.org.
 * Refused, it logs a warning and goes on.
 */
const PLUGIN_SDK_INSTALL = 'registry.npmjs.org:443';

const ctx = agentRig('opencode');
// Each test checks only the attempts of its own run.
beforeEach(() => {
  ctx.network.attempts.length = 0;
});

/** OpenCode's project config: the gateway as a provider, the MCP server, no self-update. */
const config = (gateway: string, model: string, calls: string) => {
  const server = weatherServer(calls);
  return {
    $schema: 'https://opencode.ai/config.json',
    autoupdate: false,
    provider: {
      switchyard: {
        npm: '@ai-sdk/openai-compatible',
        name: 'Switchyard',
        options: { baseURL: `${gateway}/v1`, apiKey: ctx.rig.userKey },
        models: { [model]: { name: model, tool_call: true } },
      },
    },
    mcp: { weather: { type: 'local', command: [server.command, ...server.args], environment: server.env } },
  };
};

type Event = Record<string, any>;

async function opencode(model: string, name: string) {
  const home = await mkdtemp(join(ctx.dir, `${name}-home-`));
  const workspace = await mkdtemp(join(ctx.dir, `${name}-workspace-`));
  const calls = join(home, 'mcp-calls.jsonl');
  await writeFile(join(workspace, 'opencode.json'), JSON.stringify(config(ctx.tap.url, model, calls)));
  const result = await runAgent(OPENCODE, ['run', '--format', 'json', '-m', `switchyard/${model}`, WEATHER_PROMPT], {
    cwd: workspace,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_DATA_HOME: join(home, '.local/share'),
      XDG_CACHE_HOME: join(home, '.cache'),
      XDG_STATE_HOME: join(home, '.local/state'),
      // Fetches the models.dev catalogue from models.opencode.ai at every start, on its own.
      OPENCODE_DISABLE_MODELS_FETCH: '1',
      ...ctx.network.env,
    },
    timeoutMs: RUN_TIMEOUT_MS,
  });
  const events: Event[] = result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
  return { ...result, events, toolCalls: await weatherCalls(calls) };
}

describe.each(Object.entries(PROVIDERS))('OpenCode → %s', (provider, model) => {
  it(
    'with its default tools, calls the MCP tool, then answers with its result; only its plugin SDK install leaves',
    { timeout: RUN_TIMEOUT_MS + 30_000 },
    async () => {
      const { code, stderr, timedOut, events, toolCalls } = await opencode(model, provider.replace(/\W/g, ''));
      expect(timedOut, stderr).toBe(false);
      expect(code, stderr).toBe(0);
      expect(events.filter((e) => e.type === 'error')).toEqual([]);

      const tools = events.filter((e) => e.part?.type === 'tool').map((e) => e.part);
      expect(tools).toEqual([
        expect.objectContaining({
          tool: 'weather_get_weather',
          state: expect.objectContaining({ status: 'completed', input: { location: 'Paris' }, output: WEATHER_RESULT }),
        }),
      ]);
      expect(toolCalls).toEqual([{ name: 'get_weather', location: 'Paris' }]);

      // The stand-ins echo the last user text: the prompt, which `opencode run` quotes (it has spaces).
      const answer = events
        .filter((e) => e.part?.type === 'text')
        .map((e) => e.part.text)
        .join('');
      expect(answer).toBe(`Echo: "${WEATHER_PROMPT}"`);

      // What OpenCode sends as shipped: a session title request (no tools), and its own tools beside
      // the MCP tool on both turns of the loop.
      const sent = sentBodies(ctx.tap, '/v1/chat/completions');
      const turns = sent.filter((body) => body.tools?.length > 0);
      expect(turns).toHaveLength(2);
      for (const body of turns) {
        expect(body.tools.map((tool: { function: { name: string } }) => tool.function.name)).toEqual(expect.arrayContaining(['bash', 'weather_get_weather']));
      }
      expect(ctx.tap.exchanges.map((e) => e.status)).toEqual(sent.map(() => 200));

      // Every call went upstream through the gateway, one of them carrying the tool's result.
      const upstream = ctx.rig.standIn.requests.filter((r) => r.method === 'POST');
      expect(upstream).toHaveLength(sent.length);
      expect(upstream.filter((r) => r.body.includes(WEATHER_RESULT))).toHaveLength(1);
      expect(ctx.network.attempts.filter((host) => host !== PLUGIN_SDK_INSTALL)).toEqual([]);
    },
  );
});
