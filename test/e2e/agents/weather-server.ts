import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../harness/gateway';

// The agents' one tool call: get_weather on the stdio MCP server beside this file, which notes
// every call in a file so a test sees the tool really ran (and with which arguments).

export const WEATHER_PROMPT = "What's the weather in Paris?";
export const WEATHER_RESULT = 'Paris: 18 degrees';

/** How an agent starts the server (command, arguments, environment), calls noted in `callsFile`. */
export const weatherServer = (callsFile: string) => ({
  command: process.execPath,
  args: [join(PROJECT_ROOT, 'test/e2e/agents/mcp-weather.mjs')],
  env: { MCP_CALLS_FILE: callsFile },
});

/** The tool calls the server received, oldest first (none when it never ran). */
export async function weatherCalls(callsFile: string): Promise<{ name: string; location: string }[]> {
  const text = await readFile(callsFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}
