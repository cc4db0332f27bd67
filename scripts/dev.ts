// `npm run dev`: the gateway under `wrangler dev` on 127.0.0.1.
// With .dev.vars: your vault (KV, else src/config/ai.json.enc) and users (KV, else users.json).
// Without: the embedded demo — a demo vault and user key, and a stand-in provider on 127.0.0.1.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { encryptVault } from '../src/vault/crypto';
import { startStandIn } from '../test/stand-ins/server';
import { DEMO_USER_KEY, DEMO_USERS, DEMO_VAULT_TOKEN, demoConfig } from './demo';

const port = Number(process.env.PORT ?? 8787);
const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };
const demo = !existsSync('.dev.vars');

const wranglerArgs = ['dev', '--ip', '127.0.0.1', '--port', String(port), '--show-interactive-dev-session=false'];
const cleanups: Array<() => unknown> = [];

function embed(vaultFile?: string) {
  const run = spawn(process.execPath, ['scripts/embed-config.mjs'], {
    stdio: 'inherit',
    env: vaultFile ? { ...env, SWITCHYARD_EMBED_VAULT: vaultFile } : env,
  });
  return new Promise<void>((resolve, reject) => run.on('exit', (code) => (code === 0 ? resolve() : reject(new Error('embed-config failed')))));
}

if (demo) {
  const standIn = await startStandIn({ port: Number(process.env.STAND_IN_PORT ?? 0) });
  cleanups.push(() => standIn.close());
  mkdirSync('.wrangler/demo', { recursive: true });
  const vaultFile = '.wrangler/demo/ai.json.enc';
  writeFileSync(vaultFile, await encryptVault(JSON.stringify(demoConfig(standIn.url), null, 2), DEMO_VAULT_TOKEN));
  await embed(vaultFile);
  // Leave no demo vault behind in the build once the demo stops.
  cleanups.push(() => embed());
  wranglerArgs.push(
    '--persist-to', '.wrangler/demo/state',
    '--var', `AI_JSON_CRYPTOKEN:${DEMO_VAULT_TOKEN}`,
    '--var', `DEV_USERS_JSON:${JSON.stringify(DEMO_USERS)}`,
  );
  console.log(`
  Switchyard demo — no .dev.vars, so an embedded demo vault and a stand-in provider (${standIn.url}).
    gateway        http://127.0.0.1:${port}
    user key       ${DEMO_USER_KEY}
    vault token    ${DEMO_VAULT_TOKEN}
    try            curl -s http://127.0.0.1:${port}/v1/providers -H "Authorization: Bearer ${DEMO_USER_KEY}"
  Copy .dev.vars.example to .dev.vars to run with your own vault.
`);
} else {
  await embed();
  if (existsSync('users.json')) {
    wranglerArgs.push('--var', `DEV_USERS_JSON:${JSON.stringify(JSON.parse(readFileSync('users.json', 'utf8')))}`);
  }
}

const wrangler = spawn('node_modules/.bin/wrangler', wranglerArgs, { stdio: 'inherit', env });
const stop = () => wrangler.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
wrangler.on('exit', async (code) => {
  for (const cleanup of cleanups) await cleanup();
  process.exit(code ?? 0);
});
