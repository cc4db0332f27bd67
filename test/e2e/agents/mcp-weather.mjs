// A tiny MCP server over stdio (JSON-RPC 2.0, one message per line) with one tool, get_weather.
// Each tools/call is appended to the file named by MCP_CALLS_FILE, so a test can see it ran.
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const TOOL = {
  name: 'get_weather',
  description: 'Current weather of a city',
  inputSchema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
};

function answer(message) {
  switch (message.method) {
    case 'initialize':
      return {
        protocolVersion: message.params?.protocolVersion ?? '2025-06-18',
        capabilities: { tools: {} },
        serverInfo: { name: 'weather', version: '1.0.0' },
      };
    case 'tools/list':
      return { tools: [TOOL] };
    case 'tools/call': {
      const location = String(message.params?.arguments?.location ?? '');
      appendFileSync(process.env.MCP_CALLS_FILE, `${JSON.stringify({ name: message.params?.name, location })}\n`);
      return { content: [{ type: 'text', text: `${location}: 18 degrees` }] };
    }
    case 'ping':
      return {};
    default:
      return undefined;
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  if (!line.trim()) return;
  const message = JSON.parse(line);
  if (message.id === undefined) return; // a notification
  const result = answer(message);
  const reply =
    result === undefined
      ? { jsonrpc: '2.0', id: message.id, error: { code: -32601, message: `Method not found: ${message.method}` } }
      : { jsonrpc: '2.0', id: message.id, result };
  process.stdout.write(`${JSON.stringify(reply)}\n`);
});
