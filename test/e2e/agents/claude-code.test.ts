import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../harness/gateway';
import { agentRig } from './agent-rig';
import { runAgent } from './run-agent';
import { sentBodies } from './tap';
import { WEATHER_PROMPT as PROMPT, WEATHER_RESULT, weatherCalls, weatherServer } from './weather-server';

// The real Claude Code CLI (`claude -p`, stream-json) as shipped against the gateway in wrangler dev
// and the stand-ins: one model per wire protocol, each answering with a call of an MCP tool (a stdio
// server in this directory), then with text once the tool's result is back. The network is closed.

const CLAUDE = join(PROJECT_ROOT, 'node_modules/.bin/claude');
const RUN_TIMEOUT_MS = 120_000;

// Anthropic twice, by its bare id and as `anthropic/…`: Claude Code drops the thinking block of a turn
// whose answer names another model than the one it asked for, and the stand-in (as Anthropic) refuses
// the tool loop's second turn without it; the gateway names the model as asked.
const MODELS = {
  Anthropic: 'claude-sonnet-5',
  'Anthropic, prefixed': 'anthropic/claude-sonnet-5',
  'OpenAI-protocol': 'groq/llama-3.3-70b-versatile',
  Gemini: 'gemini/gemini-3-pro-preview',
};

const ctx = agentRig('claude');

type StreamMessage = Record<string, any>;

async function claude(model: string, name: string) {
  const home = await mkdtemp(join(ctx.dir, `${name}-home-`));
  const calls = join(home, 'mcp-calls.jsonl');
  const mcpConfig = join(home, 'mcp.json');
  // `alwaysLoad`: the server's tools are there from the first turn. Claude Code otherwise starts
  // without waiting for MCP servers and offers a WaitForMcpServers tool, which the stand-ins do not call.
  await writeFile(mcpConfig, JSON.stringify({ mcpServers: { weather: { type: 'stdio', ...weatherServer(calls), alwaysLoad: true } } }));
  const result = await runAgent(
    CLAUDE,
    ['-p', PROMPT, '--output-format', 'stream-json', '--verbose', '--model', model, '--mcp-config', mcpConfig, '--allowedTools', 'mcp__weather__get_weather'],
    {
      cwd: home,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        ANTHROPIC_BASE_URL: ctx.tap.url,
        ANTHROPIC_API_KEY: ctx.rig.userKey,
        DISABLE_TELEMETRY: '1',
        DISABLE_AUTOUPDATER: '1',
        DISABLE_ERROR_REPORTING: '1',
        // Calls api.anthropic.com whatever ANTHROPIC_BASE_URL says, on its own at every start: the
        // bootstrap fetch, the organisation's fast-mode status and the MCP registry.
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        ...ctx.network.env,
      },
      timeoutMs: RUN_TIMEOUT_MS,
    },
  );
  const messages: StreamMessage[] = result.stdout
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
  return { ...result, messages, toolCalls: await weatherCalls(calls) };
}

describe.each(Object.entries(MODELS))('Claude Code → %s', (provider, model) => {
  it('with its default tools, calls the MCP tool, then answers with its result; nothing leaves the machine', { timeout: RUN_TIMEOUT_MS + 30_000 }, async () => {
    const { code, stderr, timedOut, messages, toolCalls } = await claude(model, provider.replace(/\W/g, ''));
    expect(timedOut, stderr).toBe(false);
    expect(code, stderr).toBe(0);

    const init = messages.find((m) => m.type === 'system' && m.subtype === 'init');
    expect(init?.tools).toContain('mcp__weather__get_weather');
    expect(init?.mcp_servers).toEqual([expect.objectContaining({ name: 'weather', status: 'connected' })]);

    const toolUses = messages
      .filter((m) => m.type === 'assistant')
      .flatMap((m) => m.message.content)
      .filter((block) => block.type === 'tool_use');
    expect(toolUses).toEqual([expect.objectContaining({ name: 'mcp__weather__get_weather', input: { location: 'Paris' } })]);
    expect(toolCalls).toEqual([{ name: 'get_weather', location: 'Paris' }]);
    const toolResult = messages.find((m) => m.type === 'user')?.message.content[0];
    expect(toolResult).toMatchObject({ type: 'tool_result', tool_use_id: toolUses[0].id, content: [{ type: 'text', text: WEATHER_RESULT }] });

    const final = messages.at(-1)!;
    expect(final).toMatchObject({ type: 'result', subtype: 'success', is_error: false, num_turns: 2 });
    // The stand-ins echo the last user text: Claude Code's context reminder, then the prompt.
    expect(final.result).toMatch(/^Echo: /);
    expect(final.result.endsWith(PROMPT)).toBe(true);

    // As shipped, Claude Code also asks the model for a session title (no tools, a JSON-schema answer),
    // and offers its WebSearch tool on both turns of the loop.
    const sent = sentBodies(ctx.tap, '/v1/messages');
    const turns = sent.filter((body) => body.tools?.length > 0);
    expect(turns).toHaveLength(2);
    for (const body of turns)
      expect(body.tools.map((tool: { name: string }) => tool.name)).toEqual(expect.arrayContaining(['WebSearch', 'mcp__weather__get_weather']));
    expect(ctx.tap.exchanges.map((e) => e.status)).toEqual(sent.map(() => 200));

    // Every call went upstream through the gateway, one of them carrying the tool's result.
    const upstream = ctx.rig.standIn.requests.filter((r) => r.method === 'POST');
    expect(upstream).toHaveLength(sent.length);
    expect(upstream.filter((r) => r.body.includes(WEATHER_RESULT))).toHaveLength(1);
    expect(ctx.network.attempts).toEqual([]);
  });
});
