import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../harness/gateway';
import { run } from '../harness/run';
import { startUnifiedRig, type UnifiedRig } from '../unified-setup';
import { type ClosedNetwork, closeNetwork } from './offline';

// The real Claude Code CLI (`claude -p`, stream-json) against the gateway in wrangler dev and the
// stand-ins: one model per wire protocol, each answering with a call of an MCP tool (a stdio server
// in this directory), then with text once the tool's result is back. The network is closed.

const CLAUDE = join(PROJECT_ROOT, 'node_modules/.bin/claude');
const MCP_SERVER = join(PROJECT_ROOT, 'test/e2e/agents/mcp-weather.mjs');
const PROMPT = "What's the weather in Paris?";

// Anthropic twice, by its bare id and as `anthropic/…`: Claude Code drops the thinking block of a turn
// whose answer names another model than the one it asked for, and the stand-in (as Anthropic) refuses
// the tool loop's second turn without it; the gateway names the model as asked.
const MODELS = {
  Anthropic: 'claude-sonnet-5',
  'Anthropic, prefixed': 'anthropic/claude-sonnet-5',
  'OpenAI-protocol': 'groq/llama-3.3-70b-versatile',
  Gemini: 'gemini/gemini-3-pro-preview',
};

let rig: UnifiedRig;
let network: ClosedNetwork;
let dir: string;

beforeAll(async () => {
  rig = await startUnifiedRig();
  network = await closeNetwork();
  dir = await mkdtemp(join(tmpdir(), 'switchyard-claude-'));
});
afterAll(async () => {
  await rig?.stop();
  await network?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(() => rig.standIn.reset());

type StreamMessage = Record<string, any>;

async function claude(model: string, name: string) {
  const home = await mkdtemp(join(dir, `${name}-home-`));
  const calls = join(home, 'mcp-calls.jsonl');
  const mcpConfig = join(home, 'mcp.json');
  await writeFile(
    mcpConfig,
    JSON.stringify({ mcpServers: { weather: { type: 'stdio', command: process.execPath, args: [MCP_SERVER], env: { MCP_CALLS_FILE: calls } } } }),
  );
  const result = await run(
    CLAUDE,
    ['-p', PROMPT, '--output-format', 'stream-json', '--verbose', '--model', model, '--mcp-config', mcpConfig, '--allowedTools', 'mcp__weather__get_weather'],
    {
      cwd: home,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        ANTHROPIC_BASE_URL: rig.gateway.url,
        ANTHROPIC_API_KEY: rig.userKey,
        DISABLE_TELEMETRY: '1',
        DISABLE_AUTOUPDATER: '1',
        DISABLE_ERROR_REPORTING: '1',
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
        DISABLE_NON_ESSENTIAL_MODEL_CALLS: '1',
        ...network.env,
      },
    },
  );
  const messages: StreamMessage[] = result.stdout
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line));
  const toolCalls = await readFile(calls, 'utf8').then(
    (text) =>
      text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line)),
    () => [],
  );
  return { ...result, messages, toolCalls };
}

describe.each(Object.entries(MODELS))('Claude Code → %s', (provider, model) => {
  it('calls the MCP tool, then answers with its result in the conversation; nothing leaves the machine', async () => {
    const { code, stderr, messages, toolCalls } = await claude(model, provider.replace(/\W/g, ''));
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
    expect(toolResult).toMatchObject({ type: 'tool_result', tool_use_id: toolUses[0].id, content: [{ type: 'text', text: 'Paris: 18 degrees' }] });

    const final = messages.at(-1)!;
    expect(final).toMatchObject({ type: 'result', subtype: 'success', is_error: false, num_turns: 2 });
    // The stand-ins echo the last user text: Claude Code's context reminder, then the prompt.
    expect(final.result).toMatch(/^Echo: /);
    expect(final.result.endsWith(PROMPT)).toBe(true);

    // Both turns went upstream through the gateway, the second carrying the tool's result.
    const upstream = rig.standIn.requests.filter((r) => r.method === 'POST');
    expect(upstream).toHaveLength(2);
    expect(upstream[1]!.body).toContain('Paris: 18 degrees');
    expect(network.attempts).toEqual([]);
  });
});
