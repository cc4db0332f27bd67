import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from '../../dev/stand-ins/server';
import { demoUsers, demoVault, encryptWithOpenssl, type Gateway, startGateway } from './harness/gateway';

// The response cache in `wrangler dev`: concurrent requests there are separate requests of one
// isolate (their own I/O contexts), which is what coalescing must survive; the official SDKs parse
// the replayed streams. Upstream calls are counted at the stand-in.

const TOKEN = 'e2e-cache-token';
const USER_KEY = demoUsers().ronan!.key;
const TTL = { 'X-Switchyard-Cache-Ttl': '600' };

let standIn: StandIn;
let gateway: Gateway;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  standIn = await startStandIn({ paceMs: 20 });
  gateway = await startGateway({
    vars: { AI_JSON_CRYPTOKEN: TOKEN, DEFAULT_RPM: '0' },
    users: demoUsers(),
    vaultText: await encryptWithOpenssl(JSON.stringify(demoVault(standIn.url)), TOKEN),
  });
  openai = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: USER_KEY, maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: gateway.url, apiKey: USER_KEY, maxRetries: 0 });
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await standIn?.close();
});

const question = (words: string) => [{ role: 'user' as const, content: `${words} ${crypto.randomUUID()}` }];

async function streamedText(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
  return text;
}

describe('response cache in wrangler dev', () => {
  it('a streamed MISS is replayed as a HIT the openai SDK reads to the same text, with one upstream call', async () => {
    standIn.reset();
    const body = { model: 'groq/llama-3.3-70b-versatile', messages: question('tell me a story'), stream: true as const };
    const first = await openai.chat.completions.create(body, { headers: TTL }).withResponse();
    const firstText = await streamedText(first.data);
    expect(first.response.headers.get('x-switchyard-cache')).toBe('MISS');
    expect(firstText.length).toBeGreaterThan(10);

    const second = await openai.chat.completions.create(body, { headers: TTL }).withResponse();
    expect(second.response.headers.get('x-switchyard-cache')).toBe('HIT');
    expect(await streamedText(second.data)).toBe(firstText);
    expect(standIn.requests).toHaveLength(1);
  });

  it('a streamed Anthropic message is replayed to the @anthropic-ai/sdk as the same message', async () => {
    standIn.reset();
    const body = { model: 'anthropic/claude-sonnet-5', max_tokens: 256, messages: question('describe the sea') };
    const first = await anthropic.messages.stream(body, { headers: TTL }).finalMessage();
    const second = anthropic.messages.stream(body, { headers: TTL });
    const replayed = await second.finalMessage();
    expect(replayed.content).toEqual(first.content);
    expect(standIn.requests).toHaveLength(1);
  });

  it('N concurrent identical streamed requests: exactly one upstream call, every client gets the whole stream', async () => {
    standIn.reset();
    // The provider takes a while to begin, so every request arrives while the first is in flight.
    standIn.addFault({ path: 'chat/completions', delayFirstByteMs: 1500, times: Infinity });
    const body = { model: 'groq/llama-3.3-70b-versatile', messages: question('count to twenty'), stream: true as const };
    const answers = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const { data, response } = await openai.chat.completions.create(body, { headers: TTL }).withResponse();
        return { status: response.headers.get('x-switchyard-cache'), text: await streamedText(data) };
      }),
    );
    expect(standIn.requests).toHaveLength(1);
    expect(new Set(answers.map((a) => a.text)).size).toBe(1);
    expect(answers[0]!.text.length).toBeGreaterThan(10);
    expect(answers.map((a) => a.status).sort()).toEqual(['HIT', 'HIT', 'HIT', 'HIT', 'HIT', 'MISS']);
  });

  it('N concurrent identical embeddings: one upstream call; without a TTL every request is its own call', async () => {
    standIn.reset();
    standIn.addFault({ path: 'embeddings', delayFirstByteMs: 1000, times: Infinity });
    const body = { model: 'groq/nomic-embed-text-v1.5', input: `embed ${crypto.randomUUID()}` };
    const cached = await Promise.all(Array.from({ length: 5 }, () => openai.embeddings.create(body, { headers: TTL })));
    expect(standIn.requests).toHaveLength(1);
    for (const answer of cached) expect(answer.data[0]!.embedding).toEqual(cached[0]!.data[0]!.embedding);

    await Promise.all(Array.from({ length: 3 }, () => openai.embeddings.create(body)));
    expect(standIn.requests).toHaveLength(4);
  });
});
