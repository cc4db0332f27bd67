import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from '../../dev/stand-ins/server';
import { decryptWithOpenssl, demoUsers, demoVault, encryptWithOpenssl, type Gateway, PROJECT_ROOT, startGateway } from './harness/gateway';
import { run } from './harness/run';

// Issue 2 end to end: the gateway in `wrangler dev`, driven as a user would, against stand-in providers.

const TOKEN = 'e2e-vault-token';
const users = demoUsers();
const userKey = users.ronan!.key;
const json = { authorization: `Bearer ${userKey}`, 'content-type': 'application/json' };
const chat = (content: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content }], ...extra });

describe('gateway in wrangler dev, direct to the providers', () => {
  let standIn: StandIn;
  let gateway: Gateway;

  beforeAll(async () => {
    standIn = await startStandIn();
    gateway = await startGateway({ vars: { AI_JSON_CRYPTOKEN: TOKEN }, users });
  });
  afterAll(async () => {
    await gateway?.stop();
    await standIn?.close();
  });

  it('takes a vault encrypted by openssl, and openssl decrypts what it serves', async () => {
    const config = { ...demoVault(standIn.url), unknownTopLevel: { kept: true } };
    const text = await encryptWithOpenssl(JSON.stringify(config), TOKEN);
    const put = await fetch(`${gateway.url}/ai.json.enc`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` }, body: text });
    expect(put.status, await put.clone().text()).toBe(200);

    const served = await (await fetch(`${gateway.url}/ai.json.enc`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(JSON.parse(await decryptWithOpenssl(served, TOKEN))).toEqual(config);
    const plain = await fetch(`${gateway.url}/ai.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(await plain.json()).toEqual(config);
  });

  it('refuses a vault that does not decrypt with its token, and keeps the stored one', async () => {
    const before = await (await fetch(`${gateway.url}/ai.json.enc`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const foreign = await encryptWithOpenssl(JSON.stringify(demoVault(standIn.url)), 'another-token');
    const put = await fetch(`${gateway.url}/ai.json.enc`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` }, body: foreign });
    expect(put.status).toBeGreaterThanOrEqual(400);
    expect(put.status).toBeLessThan(500);
    expect(((await put.json()) as { error: { message: string } }).error.message).toMatch(/does not decrypt/);
    expect(await (await fetch(`${gateway.url}/ai.json.enc`, { headers: { authorization: `Bearer ${TOKEN}` } })).text()).toBe(before);
  });

  it('the vault CLI writes what openssl decrypts and the gateway accepts', async () => {
    const config = demoVault(standIn.url);
    const dir = await import('node:fs/promises').then((fs) => fs.mkdtemp(`${PROJECT_ROOT}/.wrangler/cli-`));
    const { writeFile, readFile, rm } = await import('node:fs/promises');
    try {
      await writeFile(`${dir}/ai.json`, JSON.stringify(config, null, 2));
      const cli = await run(`${PROJECT_ROOT}/node_modules/.bin/tsx`, ['scripts/vault.ts', 'encrypt', `${dir}/ai.json`, '-o', `${dir}/ai.json.enc`], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, AI_JSON_CRYPTOKEN: TOKEN },
      });
      expect(cli.code, cli.stderr).toBe(0);
      const text = await readFile(`${dir}/ai.json.enc`, 'utf8');
      expect(
        text
          .split('\n')
          .slice(0, -2)
          .every((line) => line.length === 64),
      ).toBe(true);
      expect(JSON.parse(await decryptWithOpenssl(text, TOKEN))).toEqual(config);
      const put = await fetch(`${gateway.url}/ai.json.enc`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}` }, body: text });
      expect(put.status).toBe(200);

      const bad = await run(`${PROJECT_ROOT}/node_modules/.bin/tsx`, ['scripts/vault.ts', 'decrypt', `${dir}/ai.json.enc`], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, AI_JSON_CRYPTOKEN: 'wrong' },
      });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/does not decrypt/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers a plain chat call with the provider answer', async () => {
    const res = await fetch(`${gateway.url}/groq/v1/chat/completions`, { method: 'POST', headers: json, body: chat('hello there') });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const body = (await res.json()) as { object: string; choices: { message: { content: string } }[] };
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]!.message.content).toBe('Echo: hello there');
  });

  it('streams: the first chunk reaches the client long before the upstream has finished', async () => {
    const paceMs = 250;
    // The pace is set on the stand-in itself: the gateway forwards no client header but its allow-list.
    const defaultPace = standIn.paceMs;
    standIn.paceMs = paceMs;
    const started = Date.now();
    const res = await fetch(`${gateway.url}/groq/v1/chat/completions`, {
      method: 'POST',
      headers: json,
      body: chat('one two three four five six', { stream: true }),
    }).finally(() => (standIn.paceMs = defaultPace));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('transfer-encoding') ?? '').not.toMatch(/gzip/);
    const arrivals: number[] = [];
    let text = '';
    const decoder = new TextDecoder();
    const reader = res.body!.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      arrivals.push(Date.now() - started);
      text += decoder.decode(read.value, { stream: true });
    }
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const content = events
      .slice(0, -1)
      .map((e) => JSON.parse(e.slice('data: '.length)) as { choices: { delta: { content?: string } }[] })
      .map((e) => e.choices[0]?.delta.content ?? '')
      .join('');
    expect(content).toBe('Echo: one two three four five six');
    // At least 4 paced events: an unbuffered stream spreads its chunks over >= 3 pace intervals.
    expect(arrivals.length).toBeGreaterThan(3);
    expect(arrivals.at(-1)! - arrivals[0]!).toBeGreaterThanOrEqual(3 * paceMs);
  });

  it('serves the legacy X-Host-Final form, and sends nothing for a host outside the table', async () => {
    const res = await fetch(`${gateway.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { ...json, 'x-host-final': 'api.groq.com' },
      body: chat('legacy'),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('Echo: legacy');
    expect(standIn.requests.at(-1)!.path).toBe('/openai/v1/chat/completions');

    const seen = standIn.requests.length;
    const refused = await fetch(`${gateway.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { ...json, 'x-host-final': 'evil.example.com' },
      body: chat('legacy'),
    });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: 'unknown_host' } });
    expect(standIn.requests.length).toBe(seen);
  });

  it('works with the official openai SDK as a client: chat, streaming, models', async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/groq/v1`, apiKey: userKey, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'sdk' }] });
    expect(completion.choices[0]!.message.content).toBe('Echo: sdk');

    const stream = await client.chat.completions.create({
      model: 'llama-3.3-70b-versatile',
      messages: [{ role: 'user', content: 'sdk stream' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let streamed = '';
    let usage: unknown;
    for await (const chunk of stream) {
      streamed += chunk.choices[0]?.delta.content ?? '';
      usage ??= chunk.usage ?? undefined;
    }
    expect(streamed).toBe('Echo: sdk stream');
    expect(usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) });

    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain('llama-3.3-70b-versatile');
    const embedding = await client.embeddings.create({ model: 'nomic-embed-text-v1.5', input: 'vector' });
    expect(embedding.data[0]!.embedding.length).toBeGreaterThan(0);

    await expect(client.chat.completions.create({ model: 'not-in-the-vault', messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
      status: 404,
      message: expect.stringContaining('not-in-the-vault'),
    });
  });

  it('passes Anthropic and Gemini native calls through, streaming included', async () => {
    const messages = await fetch(`${gateway.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ model: 'claude-sonnet-5', max_tokens: 64, messages: [{ role: 'user', content: 'hi claude' }] }),
    });
    expect(messages.status).toBe(200);
    expect(await messages.json()).toMatchObject({ type: 'message', content: [{ type: 'text', text: 'Echo: hi claude' }] });
    const anthropicCall = standIn.requests.at(-1)!;
    expect(anthropicCall.headers['x-api-key']).toMatch(/^sk-ant-standin-key-/);
    expect(anthropicCall.headers['anthropic-version']).toBe('2023-06-01');
    expect(anthropicCall.headers.authorization).toBeUndefined();

    const gemini = await fetch(`${gateway.url}/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi gemini' }] }] }),
    });
    expect(gemini.status).toBe(200);
    expect(gemini.headers.get('content-type')).toMatch(/text\/event-stream/);
    const text = await gemini.text();
    expect(text).toMatch(/^data: \{"candidates"/);
    const geminiCall = standIn.requests.at(-1)!;
    expect(geminiCall.path).toBe('/gemini/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse');
    expect(geminiCall.headers['x-goog-api-key']).toMatch(/^AIza-standin-gemini-key-/);
  });
});

describe('gateway in wrangler dev, through (stand-in) Cloudflare AI Gateway', () => {
  let standIn: StandIn;
  let gateway: Gateway;
  const account = 'acct-e2e-1234';
  const aigToken = 'aig-e2e-token';

  beforeAll(async () => {
    standIn = await startStandIn();
    const vaultText = await encryptWithOpenssl(JSON.stringify(demoVault(standIn.url, { viaGateway: true })), TOKEN);
    gateway = await startGateway({
      vars: { AI_JSON_CRYPTOKEN: TOKEN, CLOUDFLARE_ACCOUNT_ID: account, CLOUDFLARE_AIG_TOKEN: aigToken },
      users,
      vaultText,
    });
  });
  afterAll(async () => {
    await gateway?.stop();
    await standIn?.close();
  });

  it('sends chat to the unified compat endpoint with {account} substituted and the model prefixed once', async () => {
    const res = await fetch(`${gateway.url}/groq/v1/chat/completions`, {
      method: 'POST',
      headers: { ...json, cookie: 'session=secret', 'x-forwarded-for': '10.1.2.3' },
      body: chat('through the gateway'),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe('Echo: through the gateway');

    const sent = standIn.requests.at(-1)!;
    expect(sent.path).toBe(`/gateway/v1/${account}/default/compat/chat/completions`);
    expect(JSON.parse(sent.body).model).toBe('groq/llama-3.3-70b-versatile');
    expect(sent.headers['cf-aig-authorization']).toBe(`Bearer ${aigToken}`);
    expect(sent.headers.authorization).toMatch(/^Bearer gsk_standin_groq_key_/);
    expect(sent.headers.cookie).toBeUndefined();
    expect(sent.headers['x-forwarded-for']).toBeUndefined();

    await fetch(`${gateway.url}/groq/v1/chat/completions`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ model: 'groq/llama-3.3-70b-versatile', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(JSON.parse(standIn.requests.at(-1)!.body).model).toBe('groq/llama-3.3-70b-versatile');
  });

  it('sends other operations to the provider-native gateway URLs', async () => {
    const embed = await fetch(`${gateway.url}/groq/v1/embeddings`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ model: 'nomic-embed-text-v1.5', input: 'vector' }),
    });
    expect(embed.status).toBe(200);
    expect(standIn.requests.at(-1)!.path).toBe(`/gateway/v1/${account}/default/groq/embeddings`);

    const messages = await fetch(`${gateway.url}/anthropic/v1/messages`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ model: 'claude-sonnet-5', max_tokens: 32, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(messages.status).toBe(200);
    const anthropic = standIn.requests.at(-1)!;
    expect(anthropic.path).toBe(`/gateway/v1/${account}/default/anthropic/v1/messages`);
    expect(anthropic.headers['cf-aig-authorization']).toBe(`Bearer ${aigToken}`);
    expect(anthropic.headers['x-api-key']).toMatch(/^sk-ant-standin-key-/);

    const gemini = await fetch(`${gateway.url}/gemini/v1beta/models/gemini-2.0-flash:generateContent`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
    });
    expect(gemini.status).toBe(200);
    expect(standIn.requests.at(-1)!.path).toBe(`/gateway/v1/${account}/default/google-ai-studio/v1beta/models/gemini-2.0-flash:generateContent`);
  });
});
