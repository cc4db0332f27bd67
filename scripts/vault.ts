// Vault CLI: encrypt, decrypt and validate a local ai.json with the worker's own crypto and schema.
//   npm run vault -- encrypt [ai.json] [-o src/config/ai.json.enc]
//   npm run vault -- decrypt [src/config/ai.json.enc] [-o ai.json]
//   npm run vault -- validate [ai.json]
// The passphrase comes from $AI_JSON_CRYPTOKEN, else from AI_JSON_CRYPTOKEN in .dev.vars.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { decryptVault, encryptVault } from '../src/vault/crypto';
import { AiConfig, describeIssues } from '../src/vault/schema';

const USAGE = `usage: npm run vault -- <encrypt|decrypt|validate> [file] [-o out]
  encrypt  ai.json → base64 vault text (openssl-compatible), default in: ai.json, out: stdout
  decrypt  vault text → JSON, default in: src/config/ai.json.enc, out: stdout
  validate check ai.json against the AiConfig schema, default in: ai.json
passphrase: $AI_JSON_CRYPTOKEN, else AI_JSON_CRYPTOKEN in .dev.vars`;

function fail(message: string): never {
  console.error(`vault: ${message}`);
  process.exit(1);
}

function passphrase(): string {
  if (process.env.AI_JSON_CRYPTOKEN) return process.env.AI_JSON_CRYPTOKEN;
  if (existsSync('.dev.vars')) {
    const line = readFileSync('.dev.vars', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('AI_JSON_CRYPTOKEN='));
    const value = line
      ?.slice('AI_JSON_CRYPTOKEN='.length)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    if (value) return value;
  }
  fail('no passphrase: set AI_JSON_CRYPTOKEN or put it in .dev.vars');
}

function validate(text: string, source: string): void {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    fail(`${source} is not JSON: ${(err as Error).message}`);
  }
  const parsed = AiConfig.safeParse(json);
  if (!parsed.success) fail(`${source} is not a valid AiConfig: ${describeIssues(parsed.error)}`);
  const providers = Object.entries(parsed.data.providers);
  const summary = providers.map(([id, p]) => `${id} (${p.keys.length} keys, ${p.models.length} models)`).join(', ');
  console.error(`vault: ${source} is valid: ${summary || 'no providers'}`);
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { out: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
});
const [command, file] = positionals;
if (values.help || !command) {
  console.log(USAGE);
  process.exit(command ? 0 : 1);
}

function read(path: string): string {
  if (!existsSync(path)) fail(`${path} does not exist`);
  return readFileSync(path, 'utf8');
}

function emit(text: string): void {
  if (values.out) {
    writeFileSync(values.out, text, { mode: 0o600 });
    console.error(`vault: wrote ${values.out}`);
  } else process.stdout.write(text);
}

switch (command) {
  case 'encrypt': {
    const source = file ?? 'ai.json';
    const text = read(source);
    validate(text, source);
    emit(await encryptVault(text, passphrase()));
    break;
  }
  case 'decrypt': {
    const source = file ?? 'src/config/ai.json.enc';
    let plaintext: string;
    try {
      plaintext = await decryptVault(read(source), passphrase());
    } catch (err) {
      fail(`${source}: ${(err as Error).message}`);
    }
    validate(plaintext, source);
    emit(plaintext);
    break;
  }
  case 'validate':
    validate(read(file ?? 'ai.json'), file ?? 'ai.json');
    break;
  default:
    fail(`unknown command "${command}"\n${USAGE}`);
}
