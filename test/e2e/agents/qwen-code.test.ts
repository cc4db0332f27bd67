import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROVIDERS } from '../conformance/matrix';
import { PROJECT_ROOT } from '../harness/gateway';
import { agentRig } from './agent-rig';
import { runAgent } from './run-agent';
import { sentBodies } from './tap';
import { WEATHER_PROMPT, WEATHER_RESULT, weatherCalls, weatherServer } from './weather-server';

// The real Qwen Code CLI (`qwen -p`, stream-json) as shipped, OpenAI-compatible with
// OPENAI_BASE_URL at the gateway's /v1, against wrangler dev and the stand-ins: one model per wire
// protocol, each answering with a call of an MCP tool, then with text once the tool's result is
// back. The network is closed.

const QWEN = join(PROJECT_ROOT, 'node_modules/.bin/qwen');
const RUN_TIMEOUT_MS = 150_000;

const ctx = agentRig('qwen');

/**
 * Qwen Code's settings: OpenAI-compatible auth, and off only its usage statistics, telemetry and
 * the update check. The MCP server is trusted (a headless run cannot ask before calling it) and
 * `alwaysLoadTools`: Qwen Code otherwise declares MCP tools only behind its tool_search bridge,
 * one model round trip later, which the stand-ins do not make.
 */
const settings = (calls: string) => ({
  security: { auth: { selectedType: 'openai' } },
  privacy: { usageStatisticsEnabled: false },
  telemetry: { enabled: false },
  general: { enableAutoUpdate: false },
  mcpServers: { weather: { ...weatherServer(calls), trust: true, alwaysLoadTools: true } },
});

type Event = Record<string, any>;

async function qwen(model: string, name: string) {
  const home = await mkdtemp(join(ctx.dir, `${name}-home-`));
  const workspace = await mkdtemp(join(ctx.dir, `${name}-workspace-`));
  const calls = join(home, 'mcp-calls.jsonl');
  await mkdir(join(home, '.qwen'));
  await writeFile(join(home, '.qwen/settings.json'), JSON.stringify(settings(calls)));
  const result = await runAgent(QWEN, ['-m', model, '-p', WEATHER_PROMPT, '--output-format', 'stream-json'], {
    cwd: workspace,
    env: { PATH: process.env.PATH, HOME: home, OPENAI_API_KEY: ctx.rig.userKey, OPENAI_BASE_URL: `${ctx.tap.url}/v1`, OPENAI_MODEL: model, ...ctx.network.env },
    timeoutMs: RUN_TIMEOUT_MS,
  });
  const events: Event[] = result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
  return { ...result, events, toolCalls: await weatherCalls(calls) };
}

describe.each(Object.entries(PROVIDERS))('Qwen Code → %s', (provider, model) => {
  it('with its default tools, calls the MCP tool, then answers with its result; nothing leaves the machine', { timeout: RUN_TIMEOUT_MS + 30_000 }, async () => {
    const { code, stderr, timedOut, events, toolCalls } = await qwen(model, provider.replace(/\W/g, ''));
    expect(timedOut, stderr).toBe(false);
    expect(code, stderr).toBe(0);

    const blocks = events.filter((e) => e.type === 'assistant').flatMap((e) => e.message.content);
    const toolUses = blocks.filter((block) => block.type === 'tool_use');
    expect(toolUses).toEqual([expect.objectContaining({ name: 'mcp__weather__get_weather', input: { location: 'Paris' } })]);
    expect(toolCalls).toEqual([{ name: 'get_weather', location: 'Paris' }]);

    const final = events.at(-1)!;
    expect(final).toMatchObject({ type: 'result', subtype: 'success', is_error: false });
    // The stand-ins echo the last user text.
    expect(final.result).toMatch(/^Echo: /);
    expect(final.result.endsWith(WEATHER_PROMPT)).toBe(true);

    // What Qwen Code sends as shipped: its own tools (the agent and tool-search bridges among them)
    // beside the MCP tool, on both turns of the loop.
    const sent = sentBodies(ctx.tap, '/v1/chat/completions');
    expect(sent).toHaveLength(2);
    for (const body of sent) {
      expect(body.tools.map((tool: { function: { name: string } }) => tool.function.name)).toEqual(
        expect.arrayContaining(['agent', 'tool_search', 'mcp__weather__get_weather']),
      );
    }
    expect(ctx.tap.exchanges.map((e) => e.status)).toEqual([200, 200]);

    // Both turns went upstream through the gateway, the second carrying the tool's result.
    const upstream = ctx.rig.standIn.requests.filter((r) => r.method === 'POST');
    expect(upstream).toHaveLength(2);
    expect(upstream[1]!.body).toContain(WEATHER_RESULT);
    expect(ctx.network.attempts).toEqual([]);
  });
});
