// The soak's gateway: `wrangler dev` on a fresh local state (the e2e harness) in front of the stand-in
// providers, with a vault of three priced providers plus one per kind of fault, and three users.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { startStandIn, type StandIn } from '../dev/stand-ins/server';
import { encryptVault } from '../src/vault/crypto';
import type { AiConfig } from '../src/vault/schema';
import { type Gateway, startGateway } from '../test/e2e/harness/gateway';
import { descendantPids } from './proc';

/** The gateway's idle timeout in the soak (the default is 60 s): a silent disconnect settles within it. */
export const SOAK_IDLE_TIMEOUT_MS = 10_000;

const VAULT_TOKEN = 'soak-vault-token';
/** The operator's bearer: with no ADMIN_TOKEN set, the vault passphrase. */
export const OPERATOR_TOKEN = VAULT_TOKEN;

export const USERS = {
  /** Everything, no limit: most of the mix. */
  soak: { key: 'sy-soak-user' },
  /** A daily allowance used up by its first ten or so requests (~200 tokens reserved, ~10 spent each): the rest are budget refusals. */
  tiny: { key: 'sy-soak-tiny', dailyTokens: 300 },
  /** 20 requests a minute: the rest are rate-limit refusals. */
  paced: { key: 'sy-soak-paced', rpm: 20 },
};
export type UserName = keyof typeof USERS;

/**
 * One provider per kind of fault, each with one model of its own name: a queued fault meets a request of
 * its kind, and the keys a fault puts to rest serve no other kind.
 */
export const FAULT_PROVIDERS = ['flaky-500', 'flaky-429', 'flaky-reset', 'flaky-json', 'flaky-fatal'] as const;
export type FaultProvider = (typeof FAULT_PROVIDERS)[number];

const priced = (id: string) => ({ id, usage: 'chat' as const, inputPrice: 0.5, outputPrice: 1.5 });
const keys = (...list: string[]) => list.map((key) => ({ key, owner: 'soak', type: 'paid' as const }));

function soakVault(standInUrl: string): AiConfig {
  return {
    version: 1,
    providers: {
      groq: { protocol: 'openai', endpoint: `${standInUrl}/openai/v1`, keys: keys('gsk_soak_1', 'gsk_soak_2'), models: [priced('llama-3.3-70b-versatile')] },
      anthropic: {
        protocol: 'anthropic',
        endpoint: `${standInUrl}/anthropic/v1`,
        keys: keys('sk-ant-soak-1', 'sk-ant-soak-2'),
        models: [priced('claude-sonnet-4-5')],
      },
      gemini: { protocol: 'gemini', endpoint: `${standInUrl}/gemini/v1beta`, keys: keys('AIza-soak-1', 'AIza-soak-2'), models: [priced('gemini-2.0-flash')] },
      ...Object.fromEntries(
        FAULT_PROVIDERS.map((id) => [
          id,
          { protocol: 'openai' as const, endpoint: `${standInUrl}/openai/v1`, keys: keys(`${id}-1`, `${id}-2`, `${id}-3`), models: [priced(id)] },
        ]),
      ),
    },
  };
}

export interface Workerd {
  pid: number;
  /** wrangler's proxy listens on the URL `wrangler dev` prints, and forwards to the gateway's workerd. */
  role: 'gateway' | 'proxy';
}

/** Whether a process holds the socket listening on that TCP port (its fds against /proc/net/tcp). */
function listensOn(pid: number, port: string): boolean {
  const sockets = new Set(
    readdirSync(`/proc/${pid}/fd`).map((fd) => {
      try {
        return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      } catch {
        return undefined; // closed while listed
      }
    }),
  );
  const hexPort = `:${Number(port).toString(16).toUpperCase().padStart(4, '0')}`;
  const LISTEN = '0A';
  return ['tcp', 'tcp6'].some((table) =>
    readFileSync(`/proc/net/${table}`, 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .some((cols) => cols[1]?.endsWith(hexPort) && cols[3] === LISTEN && sockets.has(cols[9])),
  );
}

export interface Rig {
  standIn: StandIn;
  gateway: Gateway;
  /** The workerd processes of `wrangler dev`: the gateway's, and the one of wrangler's proxy in front of it. */
  workerd: Workerd[];
  stop(): Promise<void>;
}

/** `paceMs` between stream events: a stream lasts long enough for a client to leave in the middle of it. */
export async function startRig(paceMs: number): Promise<Rig> {
  const standIn = await startStandIn({ paceMs });
  const before = new Set(descendantPids('workerd'));
  let gateway: Gateway;
  try {
    gateway = await startGateway({
      // MAX_ATTEMPTS 3 = a fault provider's keys: a fault on one key is retried on another.
      // UPSTREAM_IDLE_TIMEOUT_MS: also how long a client that reads nothing more is given before it is
      // taken as gone (a disconnect workerd does not report); the read-back waits past it.
      vars: { AI_JSON_CRYPTOKEN: VAULT_TOKEN, DEFAULT_RPM: '0', MAX_ATTEMPTS: '3', UPSTREAM_IDLE_TIMEOUT_MS: String(SOAK_IDLE_TIMEOUT_MS) },
      users: USERS,
      vaultText: await encryptVault(JSON.stringify(soakVault(standIn.url)), VAULT_TOKEN),
    });
  } catch (err) {
    await standIn.close();
    throw err;
  }
  const port = new URL(gateway.url).port;
  const workerd = descendantPids('workerd')
    .filter((pid) => !before.has(pid))
    .map((pid): Workerd => ({ pid, role: listensOn(pid, port) ? 'proxy' : 'gateway' }));
  return {
    standIn,
    gateway,
    workerd,
    async stop() {
      try {
        await gateway.stop();
      } finally {
        await standIn.close();
      }
    },
  };
}
