import { TINY_PNG } from '../../dev/stand-ins/conversation';
import { type StandIn, startStandIn } from '../../dev/stand-ins/server';
import { demoUsers, demoVault, encryptWithOpenssl, type Gateway, startGateway } from './harness/gateway';

// One gateway in wrangler dev and the stand-in providers, for the unified-endpoint tests (OpenAI SDK
// and Anthropic SDK). The demo vault, plus a model every protocol lists (the fallback chain) and an
// image model.

const TOKEN = 'e2e-unified-vault-token';

/** Listed by anthropic (priority 1), gemini (2) and groq (3): the fallback chain's model. */
export const CHAIN_MODEL = 'chain-model';

export interface UnifiedRig {
  standIn: StandIn;
  gateway: Gateway;
  userKey: string;
  stop(): Promise<void>;
}

export async function startUnifiedRig(): Promise<UnifiedRig> {
  const standIn = await startStandIn();
  const vault = demoVault(standIn.url);
  const models = (id: string) => vault.providers[id]!.models;
  models('anthropic').push({ id: CHAIN_MODEL, usage: 'chat', priority: 1 });
  models('gemini').push({ id: CHAIN_MODEL, usage: 'chat', priority: 2 });
  models('groq').push({ id: CHAIN_MODEL, usage: 'chat', priority: 3 }, { id: 'dall-e-3', usage: 'image-generation' });
  const users = demoUsers();
  let gateway: Gateway;
  try {
    // No per-user rate limit: a conformance run sends well over 60 requests a minute.
    gateway = await startGateway({
      vars: { AI_JSON_CRYPTOKEN: TOKEN, DEFAULT_RPM: '0', IMAGE_FETCH_ALLOW_HOSTS: new URL(standIn.url).host },
      users,
      vaultText: await encryptWithOpenssl(JSON.stringify(vault), TOKEN),
    });
  } catch (err) {
    await standIn.close();
    throw err;
  }
  return {
    standIn,
    gateway,
    userKey: users.ronan!.key,
    async stop() {
      await gateway.stop();
      await standIn.close();
    },
  };
}

/** The JSON bodies the stand-in received on paths containing `path`, oldest first. */
export function received(standIn: StandIn, path: string): Record<string, any>[] {
  return standIn.requests.filter((r) => r.path.includes(path)).map((r) => JSON.parse(r.body));
}

/** 1×1 PNG, the bytes the stand-in serves at /__files/image.png. */
export const TINY_PNG_BASE64 = TINY_PNG.toString('base64');
