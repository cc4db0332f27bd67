import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../harness/gateway';
import { agentRig } from './agent-rig';
import { runAgent } from './run-agent';
import { sentBodies } from './tap';
import { WEATHER_PROMPT, WEATHER_RESULT, weatherCalls, weatherServer } from './weather-server';

// The real Gemini CLI (`gemini -p`, stream-json) as shipped, with an API key, against the gateway in
// wrangler dev and the stand-ins: through the Gemini-protocol door ($GW, /v1beta/models/{model}:…)
// to one model per wire protocol, and through the Gemini provider's own path ($GW/gemini, as Gemini
// CLI's docs put it) to a Gemini model. Each answers with a call of an MCP tool, then with text once
// the tool's result is back. The network is closed.

const GEMINI = join(PROJECT_ROOT, 'node_modules/.bin/gemini');
const RUN_TIMEOUT_MS = 150_000;

// Gemini CLI resolves `gemini-3-pro-preview` to `gemini-3.1-pro-preview`, a model the demo vault
// does not list; by its provider-prefixed name the door takes it as given.
const CASES = [
  { name: 'door → OpenAI-protocol', base: '', model: 'groq/llama-3.3-70b-versatile', upstreamPath: '/openai/v1/chat/completions' },
  { name: 'door → Anthropic', base: '', model: 'anthropic/claude-sonnet-5', upstreamPath: '/anthropic/v1/messages' },
  { name: 'door → Gemini', base: '', model: 'gemini/gemini-3-pro-preview', upstreamPath: '/gemini/v1beta/models/gemini-3-pro-preview:streamGenerateContent' },
  { name: '/gemini → Gemini', base: '/gemini', model: 'gemini-2.5-flash', upstreamPath: '/gemini/v1beta/models/gemini-2.5-flash:streamGenerateContent' },
];

const ctx = agentRig('gemini-cli');

/**
 * Gemini CLI's settings: API-key auth, and off only its usage statistics (telemetry to Google's
 * Clearcut), telemetry and the update check and its notice. The MCP server is trusted: a headless
 * run cannot ask before calling it.
 */
const settings = (calls: string) => ({
  security: { auth: { selectedType: 'gemini-api-key' } },
  privacy: { usageStatisticsEnabled: false },
  telemetry: { enabled: false },
  general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
  mcpServers: { weather: { ...weatherServer(calls), trust: true } },
});

type Event = Record<string, any>;

async function gemini(base: string, model: string, name: string) {
  const home = await mkdtemp(join(ctx.dir, `${name}-home-`));
  const workspace = await mkdtemp(join(ctx.dir, `${name}-workspace-`));
  const calls = join(home, 'mcp-calls.jsonl');
  await mkdir(join(home, '.gemini'));
  await writeFile(join(home, '.gemini/settings.json'), JSON.stringify(settings(calls)));
  const result = await runAgent(GEMINI, ['-m', model, '-p', WEATHER_PROMPT, '--output-format', 'stream-json'], {
    cwd: workspace,
    env: {
      PATH: process.env.PATH,
      HOME: home,
      GEMINI_API_KEY: ctx.rig.userKey,
      GOOGLE_GEMINI_BASE_URL: `${ctx.tap.url}${base}`,
      // A headless run refuses an untrusted folder; this one is the test's own.
      GEMINI_CLI_TRUST_WORKSPACE: 'true',
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

describe.each(CASES)('Gemini CLI → $name', ({ base, model, upstreamPath }) => {
  it('with its default tools, calls the MCP tool, then answers with its result; nothing leaves the machine', { timeout: RUN_TIMEOUT_MS + 30_000 }, async () => {
    const { code, stderr, timedOut, events, toolCalls } = await gemini(base, model, model.replace(/\W/g, ''));
    expect(timedOut, stderr).toBe(false);
    expect(code, stderr).toBe(0);

    const toolUses = events.filter((e) => e.type === 'tool_use');
    expect(toolUses).toEqual([expect.objectContaining({ tool_name: 'mcp_weather_get_weather', parameters: { location: 'Paris' } })]);
    expect(toolCalls).toEqual([{ name: 'get_weather', location: 'Paris' }]);
    expect(events.filter((e) => e.type === 'tool_result')).toEqual([
      expect.objectContaining({ tool_id: toolUses[0]?.tool_id, status: 'success', output: WEATHER_RESULT }),
    ]);

    // The stand-ins echo the last user text: Gemini CLI's session context, then the prompt.
    const answer = events
      .filter((e) => e.type === 'message' && e.role === 'assistant')
      .map((e) => e.content)
      .join('');
    expect(answer).toMatch(/^Echo: /);
    expect(answer.endsWith(WEATHER_PROMPT)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'result', status: 'success' });

    // What Gemini CLI sends as shipped: its own tools (web search among them) beside the MCP tool,
    // streamed (`alt=sse`), the key in x-goog-api-key.
    const sent = sentBodies(ctx.tap, ':streamGenerateContent');
    expect(sent).toHaveLength(2);
    for (const body of sent) {
      const names = body.tools
        .flatMap((tool: { functionDeclarations?: { name: string }[] }) => tool.functionDeclarations ?? [])
        .map((d: { name: string }) => d.name);
      expect(names).toEqual(expect.arrayContaining(['google_web_search', 'mcp_weather_get_weather']));
    }
    expect(ctx.tap.exchanges.map((e) => [e.path, e.status])).toEqual(sent.map(() => [`${base}/v1beta/models/${model}:streamGenerateContent?alt=sse`, 200]));

    // Both turns went upstream to the model's provider, the second carrying the tool's result, and
    // no provider got the user's key.
    const upstream = ctx.rig.standIn.requests.filter((r) => r.method === 'POST');
    expect(upstream.map((r) => r.path.split('?')[0])).toEqual([upstreamPath, upstreamPath]);
    expect(upstream[1]!.body).toContain(WEATHER_RESULT);
    for (const request of upstream) expect(JSON.stringify(request.headers)).not.toContain(ctx.rig.userKey);
    expect(ctx.network.attempts).toEqual([]);
  });
});
