// Target (d): Portkey's open-source gateway (@portkey-ai/gateway, its own Node server build) pointed
// at the bench upstream as a custom OpenAI host. Run as in production: NODE_ENV=production, --headless
// (no log UI). The 1.15.x streaming failure with newer @hono/node-server (Portkey issue 1389) is
// avoided by the `overrides` pin in package.json; bench/run.ts checks that its streams arrive paced.
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { BENCH_PROVIDER_KEY } from './config';
import { type Child, forkChild } from './processes';

const require = createRequire(import.meta.url);
const SERVER = join(dirname(require.resolve('@portkey-ai/gateway/package.json')), 'build/start-server.js');

export interface PortkeyTarget {
  origin: string;
  pid: number;
  startMs: number;
  stop: () => Promise<void>;
}

export async function startPortkey(): Promise<PortkeyTarget> {
  const started = performance.now();
  const child: Child = await forkChild(SERVER, ['--headless'], {
    execArgv: ['--import', new URL('./portkey-listen.mjs', import.meta.url).href],
    env: { ...process.env, NODE_ENV: 'production' },
  });
  return { origin: `http://127.0.0.1:${child.hello.port}`, pid: child.pid, startMs: performance.now() - started, stop: child.stop };
}

/** Portkey's request headers: the provider, the key it sends on, and the upstream as its custom host. */
export const portkeyHeaders = (upstreamOrigin: string) => ({
  'x-portkey-provider': 'openai',
  'x-portkey-custom-host': `${upstreamOrigin}/v1`,
  authorization: `Bearer ${BENCH_PROVIDER_KEY}`,
});
