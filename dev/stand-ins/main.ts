import { startStandIn } from './server';

// `npx tsx dev/stand-ins/main.ts [--port 8790] [--pace-ms 5]`: run the stand-in providers until Ctrl-C.

function flag(name: string): number | undefined {
  const index = process.argv.indexOf(name);
  if (index < 0) return undefined;
  const value = Number(process.argv[index + 1]);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} needs a non-negative integer`);
  return value;
}

const standIn = await startStandIn({ port: flag('--port'), paceMs: flag('--pace-ms') });
console.log(`stand-in providers listening on ${standIn.url}`);
console.log(`  OpenAI-compatible  ${standIn.url}/openai/v1`);
console.log(`  Anthropic          ${standIn.url}/anthropic/v1`);
console.log(`  Gemini             ${standIn.url}/gemini/v1beta`);
console.log(`  AI Gateway         ${standIn.url}/gateway/v1/{account}/{gateway}`);
console.log(`  control            ${standIn.url}/__control/{faults,revoke,reset,requests}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void standIn.close().then(() => process.exit(0));
  });
}
