// The vault editor at `/vault`: decrypt the gateway's vault in the browser with the same crypto
// module the worker uses, edit the parsed JSON in place (so fields this page does not know survive),
// then encrypt it here and PUT it back. The plaintext never leaves the browser.
import './vault.css';
import { PROVIDERS, wireProtocol } from '../../providers/table';
import { decryptVault, encryptVault, VaultCryptoError } from '../../vault/crypto';
import type { AiConfig } from '../../vault/schema';
import { byId, h } from '../shared/dom';
import { describeError, gatewayFailure, ShownError } from '../shared/errors';
import { wireThemeToggle } from '../shared/theme';
import type { Draft } from './draft';
import { protocolOptions, providerCard } from './provider-card';
import { chainsKey, routesPanel } from './routes';

const PROVIDER_ID = /^[a-z0-9][a-z0-9_-]*$/;

const ui = {
  unlockForm: byId<HTMLFormElement>('unlock'),
  token: byId<HTMLInputElement>('vault-token'),
  message: byId<HTMLParagraphElement>('message'),
  error: byId<HTMLParagraphElement>('error'),
  startEmpty: byId<HTMLDivElement>('start-empty'),
  startEmptyButton: byId<HTMLButtonElement>('start-empty-button'),
  editor: byId<HTMLDivElement>('editor'),
  draftState: byId<HTMLSpanElement>('draft-state'),
  save: byId<HTMLButtonElement>('save'),
  discard: byId<HTMLButtonElement>('discard'),
  lock: byId<HTMLButtonElement>('lock'),
  providers: byId<HTMLDivElement>('providers'),
  routes: byId<HTMLDivElement>('routes'),
  addForm: byId<HTMLFormElement>('add-provider'),
  newId: byId<HTMLInputElement>('new-provider-id'),
  newProtocol: byId<HTMLSelectElement>('new-provider-protocol'),
  newEndpoint: byId<HTMLInputElement>('new-provider-endpoint'),
  knownProviders: byId<HTMLDataListElement>('known-providers'),
  announcer: byId<HTMLParagraphElement>('announcer'),
};

interface Session {
  token: string;
  /** The vault as parsed from JSON: edited in place, never rebuilt, so unknown fields stay. */
  config: AiConfig;
  /** The stored vault text this draft started from (null: no vault stored yet). */
  savedText: string | null;
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

let session: Session | undefined;
let dirty = false;
/** The chains the routes panel shows (routes.ts chainsKey). */
let shownChains = '';

function showError(message = '') {
  ui.error.textContent = message;
  ui.error.hidden = !message;
}

function setMessage(text: string, ok = false) {
  ui.message.textContent = text;
  ui.message.classList.toggle('ok', ok);
}

function setDirty(value: boolean) {
  dirty = value;
  ui.draftState.textContent = dirty ? 'Unsaved changes' : 'No unsaved changes';
  ui.draftState.classList.toggle('dirty', dirty);
  ui.save.disabled = !dirty;
  ui.discard.disabled = !dirty;
}

const draft: Draft = {
  changed: () => {
    if (!dirty) setMessage('');
    setDirty(true);
    if (session && chainsKey(session.config) !== shownChains) renderRoutes();
  },
  announce: (text) => {
    ui.announcer.textContent = '';
    setTimeout(() => {
      ui.announcer.textContent = text;
    }, 50);
  },
};

function renderProviders() {
  const config = session!.config;
  const ids = Object.keys(config.providers);
  ui.providers.replaceChildren(...ids.map((id) => providerCard(id, config.providers[id]!, draft, () => removeProvider(id))));
  if (ids.length === 0) ui.providers.append(h('p', { className: 'panel empty', textContent: 'No providers yet: add one below.' }));
  renderRoutes();
}

/** The model routes panel, rebuilt when the chains change (a model added to a second provider). */
function renderRoutes() {
  shownChains = chainsKey(session!.config);
  ui.routes.replaceChildren(routesPanel(session!.config, draft));
}

function removeProvider(id: string) {
  const provider = session!.config.providers[id]!;
  const what = `provider ${id} with its ${provider.keys.length} keys and ${provider.models.length} models`;
  if (!confirm(`Remove ${what}? It is gone from the gateway once you save.`)) return;
  delete session!.config.providers[id];
  renderProviders();
  draft.changed();
  draft.announce(`Removed ${what}.`);
  ui.newId.focus();
}

function isConfig(json: unknown): json is AiConfig {
  if (typeof json !== 'object' || json === null) return false;
  const providers = (json as { providers?: unknown }).providers;
  return typeof providers === 'object' && providers !== null && !Array.isArray(providers);
}

function open(config: AiConfig, token: string, savedText: string | null) {
  for (const provider of Object.values(config.providers)) {
    provider.keys ??= [];
    provider.models ??= [];
  }
  session = { token, config, savedText };
  renderProviders();
  ui.unlockForm.hidden = true;
  ui.startEmpty.hidden = true;
  ui.editor.hidden = false;
  setDirty(false);
}

async function decrypt(text: string, token: string): Promise<AiConfig> {
  let plaintext: string;
  try {
    plaintext = await decryptVault(text, token);
  } catch (err) {
    if (err instanceof VaultCryptoError && err.reason === 'wrong-passphrase') {
      throw new ShownError('This token does not decrypt the vault. Check it: it is the AI_JSON_CRYPTOKEN this gateway was given.');
    }
    if (err instanceof VaultCryptoError) throw new ShownError(`The stored vault is not in the openssl format this page reads: ${err.message}.`);
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(plaintext);
  } catch {
    throw new ShownError('The vault decrypts, but its content is not JSON.');
  }
  if (!isConfig(json)) throw new ShownError('The vault decrypts, but it has no "providers" object: it is not a Switchyard vault.');
  return json;
}

async function unlock() {
  const token = ui.token.value;
  showError();
  setMessage('Loading the vault…');
  try {
    const res = await fetch('/ai.json.enc', { cache: 'no-store', headers: { authorization: `Bearer ${token}` } });
    if (res.status === 404) {
      setMessage('');
      ui.startEmpty.hidden = false;
      ui.startEmptyButton.focus();
      return;
    }
    // The download needs the vault token (ADMIN_TOKEN gets a 403 saying so): a wrong token is refused before anything is decrypted.
    if (res.status === 401) throw new ShownError('The gateway refused this token: it is not the vault token.');
    if (!res.ok) throw await gatewayFailure(res);
    const text = await res.text();
    setMessage('Decrypting in your browser…');
    open(await decrypt(text, token), token, text);
    setMessage(`Decrypted: ${count(Object.keys(session!.config.providers).length, 'provider')}.`, true);
  } catch (err) {
    setMessage('');
    showError(describeError(err));
    ui.token.focus();
  }
}

async function save() {
  if (!session) return;
  const invalid = ui.editor.querySelector<HTMLInputElement>(':is(input, select):invalid:not(form.add *)');
  if (invalid) {
    invalid.reportValidity();
    invalid.focus();
    return;
  }
  showError();
  ui.save.disabled = true;
  try {
    setMessage('Encrypting in your browser…');
    const text = await encryptVault(`${JSON.stringify(session.config, null, 2)}\n`, session.token);
    setMessage('Saving…');
    const res = await fetch('/ai.json.enc', {
      method: 'PUT',
      headers: { authorization: `Bearer ${session.token}`, 'content-type': 'text/plain; charset=utf-8' },
      body: text,
    });
    if (!res.ok) throw await gatewayFailure(res);
    const counts = (await res.json()) as { providers: number; keys: number; models: number };
    session.savedText = text;
    setDirty(false);
    setMessage(
      `Saved. The gateway now serves ${count(counts.providers, 'provider')}, ${count(counts.keys, 'key')} and ${count(counts.models, 'model')}.`,
      true,
    );
  } catch (err) {
    setMessage('');
    showError(`Not saved. ${describeError(err)}`);
    ui.save.disabled = false;
  }
}

async function discard() {
  if (!session || !confirm('Discard all unsaved changes?')) return;
  showError();
  const { token, savedText } = session;
  open(savedText === null ? { version: 1, providers: {} } : await decrypt(savedText, token), token, savedText);
  setMessage('Changes discarded.');
}

function lock() {
  if (dirty && !confirm('Lock the editor and lose your unsaved changes?')) return;
  session = undefined;
  setDirty(false);
  ui.providers.replaceChildren();
  ui.editor.hidden = true;
  ui.unlockForm.hidden = false;
  ui.token.value = '';
  setMessage('Locked: the token and the decrypted vault are forgotten.');
  ui.token.focus();
}

function addProvider() {
  const id = ui.newId.value.trim();
  const config = session!.config;
  const problem = !PROVIDER_ID.test(id)
    ? 'Use lowercase letters, digits, - and _ (starting with a letter or digit).'
    : Object.hasOwn(config.providers, id)
      ? `${id} is already in the vault.`
      : '';
  ui.newId.setCustomValidity(problem);
  if (problem) {
    ui.newId.reportValidity();
    return;
  }
  config.providers[id] = { protocol: ui.newProtocol.value, endpoint: ui.newEndpoint.value.trim(), keys: [], models: [] };
  renderProviders();
  draft.changed();
  ui.addForm.reset();
  endpointEdited = false;
  byId(`provider-${id}`).focus();
  draft.announce(`Added provider ${id}. Add a key and models to it.`);
}

/** Filling in a known provider's protocol and endpoint stops once the user types an endpoint. */
let endpointEdited = false;

function prefillKnownProvider() {
  ui.newId.setCustomValidity('');
  const facts = PROVIDERS[ui.newId.value.trim()];
  if (!facts) return;
  ui.newProtocol.value = ui.newId.value.trim();
  if (!endpointEdited) ui.newEndpoint.value = facts.apiBase;
}

wireThemeToggle(byId<HTMLButtonElement>('theme-toggle'));
ui.newProtocol.replaceChildren(...protocolOptions().map(([value, label]) => h('option', { value, textContent: `${label} (${wireProtocol(value)} API)` })));
ui.knownProviders.replaceChildren(...Object.keys(PROVIDERS).map((id) => h('option', { value: id })));

ui.unlockForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void unlock();
});
ui.startEmptyButton.addEventListener('click', () => {
  open({ version: 1, providers: {} }, ui.token.value, null);
  setMessage('A new, empty vault: add providers, then save.');
  ui.newId.focus();
});
ui.save.addEventListener('click', () => void save());
ui.discard.addEventListener('click', () => void discard().catch((err: unknown) => showError(describeError(err))));
ui.lock.addEventListener('click', lock);
ui.addForm.addEventListener('submit', (event) => {
  event.preventDefault();
  addProvider();
});
ui.newId.addEventListener('input', prefillKnownProvider);
ui.newEndpoint.addEventListener('input', () => {
  endpointEdited = ui.newEndpoint.value !== '';
});
addEventListener('beforeunload', (event) => {
  if (dirty) event.preventDefault();
});
addEventListener('keydown', (event) => {
  if (event.key === 's' && (event.ctrlKey || event.metaKey) && session) {
    event.preventDefault();
    if (dirty) void save();
  }
});
