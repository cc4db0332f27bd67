// `npm run dev`: the gateway under `wrangler dev` on 127.0.0.1.
// With .dev.vars: your vault (KV, else src/config/ai.json.enc) and users (KV, else users.json).
// Without (or with SWITCHYARD_DEMO=1): the embedded demo — a stand-in provider on 127.0.0.1, and a
// demo vault and user key written to the demo's own local KV (.wrangler/demo), apart from your data.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { encryptVault } from '../src/vault/crypto';
import { startStandIn } from '../dev/stand-ins/server';
import { seedRecords, seedSql } from '../dev/usage-seed';
import { DEMO_USER_KEY, DEMO_USERS, DEMO_VAULT_TOKEN, demoConfig } from './demo';

const port = Number(process.env.PORT ?? 8787);
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };
const demo = process.env.SWITCHYARD_DEMO === '1' || !existsSync('.dev.vars');
const wranglerBin = 'node_modules/.bin/wrangler';

function exec(command: string, args: string[]): Promise<void> {
  // No stdin: wrangler asks no questions (e.g. before applying D1 migrations) when it cannot read an answer.
  const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args[0]} exited with ${code}`)))),
  );
}

const wranglerArgs = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--show-interactive-dev-session=false'];
let stopStandIn: (() => Promise<void>) | undefined;

await exec(process.execPath, ['scripts/embed-config.mjs']);
if (demo) {
  const standIn = await startStandIn({ port: Number(process.env.STAND_IN_PORT ?? 0) });
  stopStandIn = () => standIn.close();
  const dir = '.wrangler/demo';
  mkdirSync(dir, { recursive: true });
  const vault = await encryptVault(JSON.stringify(demoConfig(standIn.url), null, 2), DEMO_VAULT_TOKEN);
  writeFileSync(
    `${dir}/kv.json`,
    JSON.stringify([
      { key: 'vault:ai.json.enc', value: vault },
      { key: 'users', value: JSON.stringify(DEMO_USERS) },
    ]),
  );
  await exec(wranglerBin, ['kv', 'bulk', 'put', `${dir}/kv.json`, '--binding', 'KV_AI_PROXY', '--local', '--persist-to', `${dir}/state`]);
  await exec(wranglerBin, ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', `${dir}/state`]);
  // Two weeks of made-up usage, so the operator console's charts show something on first run.
  writeFileSync(`${dir}/usage-seed.sql`, seedSql(seedRecords()));
  await exec(wranglerBin, ['d1', 'execute', 'DB', '--local', '--persist-to', `${dir}/state`, '--file', `${dir}/usage-seed.sql`]);
  // An empty env file keeps a developer's .dev.vars out of the demo.
  writeFileSync(`${dir}/empty.env`, '');
  wranglerArgs.push(
    '--persist-to',
    `${dir}/state`,
    '--env-file',
    `${dir}/empty.env`,
    '--var',
    `AI_JSON_CRYPTOKEN:${DEMO_VAULT_TOKEN}`,
    '--var',
    'SWITCHYARD_DEMO:true',
  );
  console.log(`
  Switchyard demo — no .dev.vars, so a demo vault and a stand-in provider (${standIn.url}).
    gateway        http://127.0.0.1:${port}
    user key       ${DEMO_USER_KEY}
    vault token    ${DEMO_VAULT_TOKEN}   (also the operator token)
    console        http://127.0.0.1:${port}/admin   (seeded with two weeks of made-up usage)
    try            curl -s http://127.0.0.1:${port}/v1/providers -H "Authorization: Bearer ${DEMO_USER_KEY}"
  Copy .dev.vars.example to .dev.vars to run with your own vault.
`);
} else {
  // Your own local data (.wrangler/state): the usage schema is applied before the gateway starts.
  await exec(wranglerBin, ['d1', 'migrations', 'apply', 'DB', '--local']);
}
if (!demo && existsSync('users.json')) {
  wranglerArgs.push('--var', `DEV_USERS_JSON:${JSON.stringify(JSON.parse(readFileSync('users.json', 'utf8')))}`);
}

const wrangler = spawn(wranglerBin, wranglerArgs, { stdio: 'inherit', env });
const stop = () => wrangler.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
wrangler.on('exit', async (code) => {
  await stopStandIn?.();
  process.exit(code ?? 0);
});
