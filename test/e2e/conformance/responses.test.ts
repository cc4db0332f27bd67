import OpenAI from 'openai';
import type { FunctionTool, ResponseInputItem, ResponseOutputMessage, ResponseStreamEvent, Tool } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TINY_PNG } from '../../../dev/stand-ins/conversation';
import { type StandIn, startStandIn } from '../../../dev/stand-ins/server';
import { demoUsers, demoVault, encryptWithOpenssl, type Gateway, startGateway } from '../harness/gateway';

// The Responses column of the conformance matrix: the official openai SDK's Responses client
// (responses.create, responses.stream + finalResponse) against the gateway in wrangler dev, for a
// provider that serves the Responses API itself (passed through) and for OpenAI-protocol, Anthropic
// and Gemini providers (translated): plain, streamed, a tool round trip over three turns with
// previous_response_id and again Codex-style (store: false, the whole conversation as items,
// reasoning items included), image input, reasoning on. The stand-ins refuse what the real
// providers refuse (an output without its call, an unknown reasoning item…).

const TOKEN = 'e2e-responses-vault-token';

let standIn: StandIn;
let gateway: Gateway;
let client: OpenAI;
const MODELS: Record<string, string> = {};

beforeAll(async () => {
  standIn = await startStandIn();
  const vault = demoVault(standIn.url);
  // OpenAI itself, on the stand-in's native /v1/responses.
  vault.providers.openai = {
    protocol: 'openai',
    endpoint: `${standIn.url}/v1`,
    keys: [{ key: 'sk-standin-openai-key-1', owner: 'demo', type: 'paid' }],
    models: [{ id: 'gpt-4.1-mini', usage: 'chat', contextWindow: 1047576, maxOutputTokens: 32768 }],
  };
  // A provider whose vault entry refuses hosted tools it cannot run.
  vault.providers['groq-strict'] = { ...vault.providers.groq!, hostedTools: 'refuse' };
  const first = (id: string) => `${id}/${vault.providers[id]!.models.find((m) => m.usage === 'chat')!.id}`;
  Object.assign(MODELS, { 'openai (native)': first('openai'), 'openai-protocol': first('groq'), anthropic: first('anthropic'), gemini: first('gemini') });
  const users = demoUsers();
  // DEFAULT_RPM 0: the matrix sends more than the default 60 requests a minute as one user.
  try {
    gateway = await startGateway({
      vars: { AI_JSON_CRYPTOKEN: TOKEN, DEFAULT_RPM: '0' },
      users,
      vaultText: await encryptWithOpenssl(JSON.stringify(vault), TOKEN),
    });
  } catch (err) {
    await standIn.close();
    throw err;
  }
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: users.ronan!.key, maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.stop();
  await standIn?.close();
});
beforeEach(() => standIn.reset());

const UPSTREAM: Record<string, string> = {
  'openai (native)': '/v1/responses',
  'openai-protocol': '/openai/v1/chat/completions',
  anthropic: '/anthropic/v1/messages',
  gemini: '/gemini/v1beta/models/',
};

const WEATHER_PARAMETERS = { type: 'object', properties: { location: { type: 'string' } }, required: ['location'], additionalProperties: false };

const weather: FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather of a city',
  parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'], additionalProperties: false },
  strict: true,
};

/** The bodies the stand-in received for a column's provider, oldest first. */
const upstream = (column: string) => standIn.requests.filter((r) => r.path.includes(UPSTREAM[column]!)).map((r) => JSON.parse(r.body));

const COLUMNS = ['openai (native)', 'openai-protocol', 'anthropic', 'gemini'];

describe.each(COLUMNS)('openai SDK Responses → %s', (column) => {
  const model = () => MODELS[column]!;

  it('plain: responses.create answers, with usage and the provider named', async () => {
    const { data, response } = await client.responses
      .create({ model: model(), instructions: 'Be brief.', input: 'hello there', max_output_tokens: 100 })
      .withResponse();
    expect(response.headers.get('x-switchyard-provider')).toBe(model().split('/')[0]);
    expect(data.object).toBe('response');
    expect(data.status).toBe('completed');
    expect(data.output_text).toBe('Echo: hello there');
    expect(data.usage!.input_tokens).toBeGreaterThan(0);
    expect(data.usage!.output_tokens).toBeGreaterThan(0);
    expect(data.usage!.total_tokens).toBe(data.usage!.input_tokens + data.usage!.output_tokens);
    expect(upstream(column)).toHaveLength(1);
    // Stored: the same response comes back by id.
    const stored = await client.responses.retrieve(data.id);
    expect(stored.output_text).toBe('Echo: hello there');
  });

  it('streamed: responses.stream() reads every event and finalResponse() is the whole answer', async () => {
    const events: ResponseStreamEvent[] = [];
    let text = '';
    const stream = client.responses
      .stream({ model: model(), input: 'one two three four' })
      .on('event', (event) => void events.push(event))
      .on('response.output_text.delta', (event) => void (text += event.delta));
    const final = await stream.finalResponse();
    expect(text).toBe('Echo: one two three four');
    expect(final.output_text).toBe(text);
    expect(final.status).toBe('completed');
    expect(final.usage!.output_tokens).toBeGreaterThan(0);
    const types = events.map((e) => e.type);
    expect(types.slice(0, 2)).toEqual(['response.created', 'response.in_progress']);
    expect(types).toEqual(
      expect.arrayContaining([
        'response.output_item.added',
        'response.content_part.added',
        'response.output_text.done',
        'response.content_part.done',
        'response.output_item.done',
      ]),
    );
    expect(types.at(-1)).toBe('response.completed');
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect((await client.responses.retrieve(final.id)).output_text).toBe(text);
  });

  it('tools over three turns with previous_response_id (streamed and not)', async () => {
    const turn1 = await client.responses.create({ model: model(), input: 'What is the weather in Paris?', tools: [weather] });
    const call1 = turn1.output.find((item) => item.type === 'function_call')!;
    expect(call1).toMatchObject({ type: 'function_call', name: 'get_weather' });
    expect(JSON.parse(call1.arguments)).toEqual({ location: 'Paris' });

    const turn2 = await client.responses
      .stream({
        model: model(),
        previous_response_id: turn1.id,
        tools: [weather],
        input: [{ type: 'function_call_output', call_id: call1.call_id, output: '18°C, sunny' }],
      })
      .finalResponse();
    expect(turn2.output_text).toBe('Echo: What is the weather in Paris?');

    const turn3 = await client.responses
      .stream({ model: model(), previous_response_id: turn2.id, tools: [weather], input: 'And what is the weather in Rome?' })
      .finalResponse();
    const call3 = turn3.output.find((item) => item.type === 'function_call')!;
    expect(JSON.parse(call3.arguments)).toEqual({ location: 'Rome' });

    const turn4 = await client.responses.create({
      model: model(),
      previous_response_id: turn3.id,
      tools: [weather],
      input: [{ type: 'function_call_output', call_id: call3.call_id, output: '21°C, clear' }],
    });
    expect(turn4.status).toBe('completed');
    expect(turn4.output_text).toBe('Echo: And what is the weather in Rome?');
    expect(turn4.previous_response_id).toBe(turn3.id);
    // The provider got the whole conversation on the last turn: both calls and both results.
    const last = JSON.stringify(upstream(column).at(-1));
    for (const part of ['18°C, sunny', '21°C, clear', 'Paris', 'Rome']) expect(last).toContain(part);
  });

  it('Codex-style: store: false, the whole conversation as items each turn, reasoning items included', async () => {
    const common = {
      model: model(),
      store: false,
      tools: [weather],
      parallel_tool_calls: false,
      reasoning: { effort: 'low' as const, summary: 'auto' as const },
      include: ['reasoning.encrypted_content' as const],
      instructions: 'You are a coding agent.',
    };
    const history: ResponseInputItem[] = [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'What is the weather in Lyon?' }] }];
    const turn1 = await client.responses.stream({ ...common, input: history }).finalResponse();
    const call = turn1.output.find((item) => item.type === 'function_call')!;
    expect(JSON.parse(call.arguments)).toEqual({ location: 'Lyon' });
    history.push(...(turn1.output as ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: '15°C' });

    const turn2 = await client.responses.create({ ...common, input: history });
    expect(turn2.output_text).toBe('Echo: What is the weather in Lyon?');
    history.push(...(turn2.output as ResponseInputItem[]), { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'thanks' }] });

    const turn3 = await client.responses.stream({ ...common, input: history }).finalResponse();
    expect(turn3.output_text).toBe('Echo: thanks');
    // Nothing was stored.
    await expect(client.responses.retrieve(turn3.id)).rejects.toMatchObject({ status: 404 });
  });

  it('image input (input_image, data URL)', async () => {
    const image = `data:image/png;base64,${TINY_PNG.toString('base64')}`;
    const answer = await client.responses.create({
      model: model(),
      input: [
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'describe this' },
            { type: 'input_image', image_url: image, detail: 'auto' },
          ],
        },
      ],
    });
    expect(answer.output_text).toBe('Echo: describe this');
    expect(JSON.stringify(upstream(column)[0])).toContain(TINY_PNG.toString('base64'));
  });

  it('reasoning on: the request carries it, the answer completes', async () => {
    const events: string[] = [];
    const final = await client.responses
      .stream({ model: model(), input: 'think first', reasoning: { effort: 'medium', summary: 'auto' } })
      .on('event', (event) => void events.push(event.type))
      .finalResponse();
    expect(final.status).toBe('completed');
    expect(final.output_text).toBe('Echo: think first');
    const sent = upstream(column)[0]!;
    if (column === 'openai (native)') {
      expect(sent.reasoning).toEqual({ effort: 'medium', summary: 'auto' });
      expect(final.output[0]).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text' }] });
      expect(events).toContain('response.reasoning_summary_text.delta');
      expect(final.usage!.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    }
    if (column === 'openai-protocol') expect(sent.reasoning_effort).toBe('medium');
  });
});

/**
 * What coding agents send by default (Codex: its sub-agent tools as a `namespace`, `custom` tools
 * such as apply_patch, the hosted `web_search`) on every provider kind. The stand-ins refuse tool
 * names and tool types the real APIs refuse, so a name or type that reached them untranslated fails.
 */
describe.each(COLUMNS)('agent tools: openai SDK Responses → %s', (column) => {
  const model = () => MODELS[column]!;
  const translated = column !== 'openai (native)';
  const forecast = { type: 'function' as const, name: 'get_forecast', description: 'Forecast of a city', parameters: WEATHER_PARAMETERS, strict: false };
  const namespace = (name: string) => ({ type: 'namespace' as const, name, description: 'Weather tools.', tools: [forecast] });
  const note = { type: 'custom' as const, name: 'weather_note', description: 'Writes a weather note as plain text.', format: { type: 'text' as const } };

  it('namespace: the call comes back namespaced, streamed and not, and its output continues the conversation', async () => {
    const tools: Tool[] = [namespace('weather')];
    const question: ResponseInputItem = { role: 'user', content: 'What is the weather in Paris?' };
    const turn1 = await client.responses.create({ model: model(), store: false, tools, input: [question] });
    const call = turn1.output.find((item) => item.type === 'function_call')!;
    expect(call).toMatchObject({ type: 'function_call', name: 'get_forecast', namespace: 'weather' });
    expect(JSON.parse(call.arguments)).toEqual({ location: 'Paris' });
    if (translated) expect(JSON.stringify(upstream(column)[0])).toContain('weather__get_forecast');

    const added: unknown[] = [];
    const streamed = await client.responses
      .stream({ model: model(), store: false, tools, input: [question] })
      .on('response.output_item.added', (event) => void added.push(event.item))
      .finalResponse();
    expect(added).toEqual([expect.objectContaining({ type: 'function_call', name: 'get_forecast', namespace: 'weather' })]);
    expect(streamed.output).toEqual([expect.objectContaining({ type: 'function_call', name: 'get_forecast', namespace: 'weather' })]);

    const turn2 = await client.responses.create({
      model: model(),
      store: false,
      tools,
      input: [question, ...(turn1.output as ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: '18°C' }],
    });
    expect(turn2.output_text).toBe('Echo: What is the weather in Paris?');
    expect(JSON.stringify(upstream(column).at(-1))).toContain('18°C');
  });

  // Only where the gateway translates: OpenAI itself gets the namespace as the client sent it.
  if (translated)
    it('namespace: a name the providers refuse (a dot) is made to fit and still comes back as the client named it', async () => {
      const tools: Tool[] = [namespace('acme.weather')];
      const answer = await client.responses.stream({ model: model(), tools, input: 'What is the weather in Rome?' }).finalResponse();
      expect(answer.output).toEqual([expect.objectContaining({ type: 'function_call', name: 'get_forecast', namespace: 'acme.weather' })]);
      expect(JSON.stringify(upstream(column)[0])).not.toContain('acme.weather');
    });

  it('custom: the call is a custom_tool_call with its text input, streamed as input deltas, and its output continues', async () => {
    const question: ResponseInputItem = { role: 'user', content: 'What is the weather in Rome?' };
    const deltas: string[] = [];
    const turn1 = await client.responses
      .stream({ model: model(), store: false, tools: [note], input: [question] })
      .on('response.custom_tool_call_input.delta', (event) => void deltas.push(event.delta))
      .finalResponse();
    const call = turn1.output.find((item) => item.type === 'custom_tool_call')!;
    expect(call).toMatchObject({ type: 'custom_tool_call', name: 'weather_note', input: 'weather_note Rome' });
    expect(deltas.join('')).toBe('weather_note Rome');

    const turn2 = await client.responses.create({
      model: model(),
      store: false,
      tools: [note],
      input: [question, ...(turn1.output as ResponseInputItem[]), { type: 'custom_tool_call_output', call_id: call.call_id, output: 'noted' }],
    });
    expect(turn2.output_text).toBe('Echo: What is the weather in Rome?');
    expect(JSON.stringify(upstream(column).at(-1))).toContain('noted');
  });

  it.each([false, true])('hosted web_search (stream: %s): searched where the provider can, dropped and said so where not', async (stream) => {
    // Gemini before Gemini 3 takes Google Search only without functions (see the Gemini tests below).
    const tools = column === 'gemini' ? [{ type: 'web_search' as const }] : [{ type: 'web_search' as const }, forecast];
    const input = 'Please search the news about Lyon';
    const { data, response } = stream
      ? await client.responses
          .stream({ model: model(), tools, input })
          .finalResponse()
          .then(async (data) => ({ data, response: undefined }))
      : await client.responses.create({ model: model(), tools, input }).withResponse();
    expect(data.output_text).toBe(`Echo: ${input}`);
    const sent = upstream(column)[0]!;
    if (column === 'openai-protocol') {
      expect(data.output.map((item) => item.type)).toEqual(['message']);
      if (response) expect(response.headers.get('x-switchyard-dropped-tools')).toBe('web_search');
      expect(sent.web_search_options).toBeUndefined();
      expect(sent.tools).toEqual([expect.objectContaining({ type: 'function', function: expect.objectContaining({ name: 'get_forecast' }) })]);
      return;
    }
    if (response) expect(response.headers.get('x-switchyard-dropped-tools')).toBeNull();
    // Gemini's grounding comes with its last chunk: streamed, its search item follows the message.
    expect(data.output.find((item) => item.type === 'web_search_call')).toMatchObject({ status: 'completed', action: { type: 'search', query: input } });
    const message = data.output.find((item) => item.type === 'message') as ResponseOutputMessage;
    expect(message.content[0]).toMatchObject({
      type: 'output_text',
      annotations: [{ type: 'url_citation', url: expect.stringMatching(/^https:\/\/example\.com\/search\//), start_index: 0 }],
    });
    if (column === 'anthropic') expect(sent.tools).toContainEqual({ type: 'web_search_20250305', name: 'web_search' });
    if (column === 'gemini') expect(sent.tools).toContainEqual({ googleSearch: {} });
  });
});

describe('hosted web_search beside functions on Gemini', () => {
  const tools = [{ type: 'web_search' as const }, weather];
  const input = 'Please search the news about Lyon';

  it('Gemini 3 takes both (with includeServerSideToolInvocations) and searches', async () => {
    const { data, response } = await client.responses.create({ model: 'gemini/gemini-3-pro-preview', tools, input }).withResponse();
    expect(response.headers.get('x-switchyard-dropped-tools')).toBeNull();
    expect(data.output[0]).toMatchObject({ type: 'web_search_call' });
    expect(upstream('gemini')[0]).toMatchObject({ toolConfig: { includeServerSideToolInvocations: true } });
  });

  it('an earlier Gemini refuses the two together: the search is dropped and the answer says so', async () => {
    const { data, response } = await client.responses.create({ model: MODELS.gemini!, tools, input }).withResponse();
    expect(MODELS.gemini).not.toMatch(/gemini-3/);
    expect(response.headers.get('x-switchyard-dropped-tools')).toBe('web_search');
    expect(data.output_text).toBe(`Echo: ${input}`);
    expect(upstream('gemini')[0]!.tools).toEqual([{ functionDeclarations: [expect.objectContaining({ name: 'get_weather' })] }]);
  });
});

describe('hosted tools elsewhere', () => {
  it('the stream of a provider without search carries the dropped-tools header', async () => {
    const response = await fetch(`${gateway.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${demoUsers().ronan!.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODELS['openai-protocol'], stream: true, input: 'search something', tools: [{ type: 'web_search_preview' }] }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-switchyard-dropped-tools')).toBe('web_search');
    expect(await response.text()).toContain('response.completed');
  });

  it('a provider whose vault entry says hostedTools: "refuse" answers 400 naming the tool, and nothing is sent', async () => {
    const failure = await client.responses
      .create({ model: 'groq-strict/llama-3.3-70b-versatile', input: 'search something', tools: [{ type: 'web_search' }] })
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(OpenAI.BadRequestError);
    expect((failure as Error).message).toContain('"web_search"');
    expect(standIn.requests).toHaveLength(0);
  });

  it("Claude Code's web search server tool on /v1/messages: passed to Anthropic, dropped with the header elsewhere", async () => {
    const ask = (model: string) =>
      fetch(`${gateway.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': demoUsers().ronan!.key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
        body: JSON.stringify({
          model,
          max_tokens: 200,
          messages: [{ role: 'user', content: 'Please search the news about Lyon' }],
          tools: [{ type: 'web_search_20250305', name: 'web_search', max_uses: 5 }],
        }),
      });
    const elsewhere = await ask(MODELS['openai-protocol']!);
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.headers.get('x-switchyard-dropped-tools')).toBe('web_search');
    expect(((await elsewhere.json()) as { content: unknown }).content).toEqual([{ type: 'text', text: 'Echo: Please search the news about Lyon' }]);
    const anthropic = await ask(MODELS.anthropic!);
    expect(anthropic.headers.get('x-switchyard-dropped-tools')).toBeNull();
    const blocks = ((await anthropic.json()) as { content: { type: string }[] }).content.map((block) => block.type);
    expect(blocks).toEqual(['server_tool_use', 'web_search_tool_result', 'text']);
    expect(JSON.stringify(upstream('anthropic').at(-1))).toContain('web_search_20250305');
  });

  it('web_search_options on /v1/chat/completions to a provider without search: dropped with the header', async () => {
    const { data, response } = await new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: demoUsers().ronan!.key, maxRetries: 0 }).chat.completions
      .create({ model: MODELS['openai-protocol']!, messages: [{ role: 'user', content: 'search something' }], web_search_options: {} })
      .withResponse();
    expect(data.choices[0]!.message.content).toBe('Echo: search something');
    expect(response.headers.get('x-switchyard-dropped-tools')).toBe('web_search');
    expect(upstream('openai-protocol')[0]!.web_search_options).toBeUndefined();
  });
});

describe('the route', () => {
  it('errors are OpenAI-shaped: a function_call_output without its call is a 400 before any provider is called', async () => {
    const failure = await client.responses
      .create({ model: MODELS.anthropic!, input: [{ type: 'function_call_output', call_id: 'call_nowhere', output: 'x' }] })
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(OpenAI.BadRequestError);
    expect((failure as InstanceType<typeof OpenAI.BadRequestError>).message).toContain(
      'No tool call found for function call output with call_id call_nowhere.',
    );
    expect(standIn.requests).toHaveLength(0);
  });

  it("the native provider refuses the same (the stand-in speaks OpenAI's refusals)", async () => {
    const failure = await client.responses
      .create({ model: MODELS['openai (native)']!, input: [{ type: 'function_call_output', call_id: 'call_nowhere', output: 'x' }] })
      .catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(OpenAI.BadRequestError);
    expect(upstream('openai (native)')).toHaveLength(1);
  });

  it('another user cannot read, delete or continue a stored response', async () => {
    const mine = await client.responses.create({ model: MODELS.gemini!, input: 'private' });
    const other = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: demoUsers().audrey!.key, maxRetries: 0 });
    await expect(other.responses.retrieve(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.responses.delete(mine.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.responses.create({ model: MODELS['openai-protocol']!, input: 'x', previous_response_id: mine.id })).rejects.toMatchObject({
      status: 404,
    });
    await client.responses.delete(mine.id);
    await expect(client.responses.retrieve(mine.id)).rejects.toMatchObject({ status: 404 });
  });
});
