import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from './harness/gateway';
import { run } from './harness/run';

// The README's run command serves the embedded demo, and every curl of "Calling the gateway" answers.

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Every sh block of the README that sets GW: the examples a user runs against the gateway. */
function readmeExampleBlocks(readme: string): string[] {
  return [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((block) => /^GW=/m.test(block));
}

/** The block's commands, each joined across its `\` continuation lines. */
function commands(block: string): string[] {
  return block
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('curl '));
}

describe('README: npm run dev serves the embedded demo', () => {
  let dev: ChildProcess;
  let gw: string;
  let output = '';
  let workDir: string;

  beforeAll(async () => {
    const port = await freePort();
    gw = `http://127.0.0.1:${port}`;
    workDir = await mkdtemp(join(tmpdir(), 'switchyard-readme-'));
    dev = spawn('npm', ['run', 'dev'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, PORT: String(port), SWITCHYARD_DEMO: '1', WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    dev.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    dev.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        await (await fetch(`${gw}/v1/providers`)).arrayBuffer();
        break;
      } catch {
        if (Date.now() > deadline || dev.exitCode !== null) throw new Error(`npm run dev did not come up:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  });

  afterAll(async () => {
    if (dev?.pid) {
      const exited = new Promise((resolve) => dev.once('exit', resolve));
      process.kill(-dev.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      try {
        process.kill(-dev.pid, 'SIGKILL');
      } catch {
        // the group is gone
      }
    }
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('prints the demo key and URL', () => {
    expect(output).toContain('sy-demo-key');
    expect(output).toContain(gw);
  });

  it('answers every curl example of the README (direct and unified sections)', async () => {
    const readme = await readFile(join(PROJECT_ROOT, 'README.md'), 'utf8');
    const blocks = readmeExampleBlocks(readme);
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    // Every block's shell variables (GW, ADMIN, …), with GW pointing at this demo.
    const setup = blocks
      .flatMap((block) => block.split('\n'))
      .filter((line) => /^[A-Z][A-Z_]*=\S+/.test(line))
      .map((line) => line.replace(/\s+#.*$/, '').replace(/^GW=\S+/, `GW=${gw}`))
      .join('\n');
    const curls = blocks.flatMap(commands);
    expect(curls.length).toBeGreaterThanOrEqual(20);
    for (const command of curls) {
      const result = await run('bash', ['-c', `${setup}\n${command.replace(/^curl /, 'curl --fail-with-body ')}`], { cwd: workDir });
      expect(result.code, `${command}\n${result.stdout}\n${result.stderr}`).toBe(0);
      expect(result.stdout, command).not.toMatch(/"error"/);
      if (/chat\/completions|\/messages\b(?!\/count_tokens)|generateContent/i.test(command)) {
        // Streamed answers arrive in pieces: "Echo: " then "Hello".
        expect(result.stdout, command).toMatch(command.includes('-sN') ? /Echo: [\s\S]*Hello/ : /Echo: Hello/);
      }
    }
  });

  it("prints no error for the demo's own vault token, only an info line saying it is the demo's", async () => {
    // The console's sign-in reads the operator /healthz, which checks the secrets.
    expect((await fetch(`${gw}/healthz`, { headers: { authorization: 'Bearer demo-vault-token' } })).status).toBe(200);
    await expect.poll(() => output, { timeout: 10_000 }).toContain('demo_vault_token');
    expect(output).not.toContain('vault_token_weak');
  });

  it('streams the streaming example as server-sent events', async () => {
    const res = await fetch(`${gw}/groq/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sy-demo-key', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'llama-3.3-70b-versatile', stream: true, messages: [{ role: 'user', content: 'Hello' }] }),
    });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    expect((await res.text()).trimEnd().endsWith('data: [DONE]')).toBe(true);
  });
});
