// The playground at `/`: connect with a gateway key, pick a provider and a model, send a prompt and
// watch the answer stream in (or see the generated picture for an image model).
import './playground.css';
import { byId, h } from '../shared/dom';
import { describeError } from '../shared/errors';
import { wireThemeToggle } from '../shared/theme';
import { type ChatRequest, generateImage, listModels, listProviders, type ModelEntry, type ProviderEntry, streamChat } from './gateway';

/** sessionStorage: the key lasts as long as the tab and never appears in a URL. */
const KEY_STORAGE = 'switchyard-user-key';
const CHOICE_STORAGE = 'switchyard-playground-choice';

const USAGE_LABELS: Record<string, string> = { chat: 'Chat', 'image-generation': 'Image generation' };

const ui = {
  connectForm: byId<HTMLFormElement>('connect'),
  key: byId<HTMLInputElement>('user-key'),
  keyHelp: byId<HTMLParagraphElement>('key-help'),
  askForm: byId<HTMLFormElement>('ask'),
  provider: byId<HTMLSelectElement>('provider'),
  model: byId<HTMLSelectElement>('model'),
  systemField: byId<HTMLDivElement>('system-field'),
  system: byId<HTMLTextAreaElement>('system'),
  prompt: byId<HTMLTextAreaElement>('prompt'),
  send: byId<HTMLButtonElement>('send'),
  stop: byId<HTMLButtonElement>('stop'),
  status: byId<HTMLParagraphElement>('status'),
  error: byId<HTMLParagraphElement>('error'),
  answer: byId<HTMLDivElement>('answer'),
  image: byId<HTMLElement>('image'),
  imageOutput: byId<HTMLImageElement>('image-output'),
  imageCaption: byId<HTMLElement>('image-caption'),
};
const answerPanel = ui.answer.closest('section')!;

let providers: ProviderEntry[] = [];
let models: ModelEntry[] = [];
let running: AbortController | undefined;

const session = {
  get(name: string) {
    try {
      return sessionStorage.getItem(name) ?? '';
    } catch {
      return '';
    }
  },
  set(name: string, value: string) {
    try {
      sessionStorage.setItem(name, value);
    } catch {
      // Storage disabled: the value lasts until the page is closed.
    }
  },
};

function showError(message = '') {
  ui.error.textContent = message;
  ui.error.hidden = !message;
}

function setStatus(text: string, ok = false) {
  ui.status.textContent = text;
  ui.status.classList.toggle('ok', ok);
}

const currentProvider = () => providers.find((p) => p.id === ui.provider.value);
const currentModel = () => models.find((m) => m.id === ui.model.value);

function rememberedChoice(): { provider?: string; model?: string } {
  try {
    return JSON.parse(session.get(CHOICE_STORAGE) || '{}');
  } catch {
    return {};
  }
}

function rememberChoice() {
  session.set(CHOICE_STORAGE, JSON.stringify({ provider: ui.provider.value, model: ui.model.value }));
}

async function connect() {
  const key = ui.key.value.trim();
  session.set(KEY_STORAGE, key);
  showError();
  ui.keyHelp.textContent = 'Connecting…';
  try {
    providers = await listProviders(key);
    ui.keyHelp.textContent = providers.length
      ? `Connected: ${providers.length} provider${providers.length === 1 ? '' : 's'} available.`
      : 'Connected, but no provider is available to this key.';
  } catch (err) {
    providers = [];
    ui.keyHelp.textContent = 'Not connected.';
    showError(describeError(err));
  }
  ui.provider.replaceChildren(...providers.map((p) => h('option', { value: p.id, textContent: `${p.id} (${p.protocol})` })));
  ui.provider.disabled = providers.length === 0;
  const remembered = rememberedChoice().provider;
  if (providers.some((p) => p.id === remembered)) ui.provider.value = remembered!;
  await loadModels();
}

async function loadModels() {
  const provider = currentProvider();
  let listed: ModelEntry[] = [];
  if (provider) {
    try {
      listed = (await listModels(ui.key.value.trim(), provider.id)).filter((m) => (m.usage ?? 'chat') in USAGE_LABELS);
    } catch (err) {
      showError(describeError(err));
    }
  }
  // The provider changed while its list was on the way: the newer call fills the picker.
  if (currentProvider() !== provider) return;
  models = listed;
  const groups = Object.entries(USAGE_LABELS).map(([usage, label]) =>
    h(
      'optgroup',
      { label },
      models.filter((m) => (m.usage ?? 'chat') === usage).map((m) => h('option', { value: m.id, textContent: m.id })),
    ),
  );
  ui.model.replaceChildren(...groups.filter((group) => group.childElementCount > 0));
  ui.model.disabled = models.length === 0;
  const remembered = rememberedChoice().model;
  if (models.some((m) => m.id === remembered)) ui.model.value = remembered!;
  if (provider && models.length === 0) setStatus(`${provider.id} offers no chat or image model to try here.`);
  updateMode();
}

function updateMode() {
  const isImage = currentModel()?.usage === 'image-generation';
  ui.systemField.hidden = isImage;
  ui.send.textContent = isImage ? 'Generate image' : 'Send';
  ui.send.disabled = !currentModel() || running !== undefined;
  ui.stop.disabled = running === undefined;
}

async function send() {
  const provider = currentProvider();
  const model = currentModel();
  if (!provider || !model || running) return;
  const request: ChatRequest = { provider, model, system: ui.system.value.trim(), prompt: ui.prompt.value.trim() };
  const controller = new AbortController();
  running = controller;
  updateMode();
  showError();
  ui.answer.replaceChildren();
  ui.image.hidden = true;
  answerPanel.setAttribute('aria-busy', 'true');
  setStatus(`Waiting for ${model.id}…`);
  // One column (narrow screens): bring the answer into view, it is below the form.
  if (answerPanel.getBoundingClientRect().top > innerHeight) answerPanel.scrollIntoView({ block: 'start' });
  const started = performance.now();
  try {
    if (model.usage === 'image-generation') {
      ui.imageOutput.src = await generateImage(request, ui.key.value.trim(), controller.signal);
      ui.imageOutput.alt = `Image generated by ${model.id} for the prompt: ${request.prompt}`;
      ui.imageCaption.textContent = request.prompt;
      ui.image.hidden = false;
    } else {
      await streamChat(request, ui.key.value.trim(), controller.signal, (text) => {
        if (!ui.answer.hasChildNodes()) setStatus(`${model.id} is answering…`);
        ui.answer.append(text);
      });
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (model.usage !== 'image-generation' && !ui.answer.textContent) setStatus(`${model.id} returned an empty answer.`);
    else setStatus(`Done in ${seconds} s.`, true);
  } catch (err) {
    if (controller.signal.aborted) {
      setStatus('Stopped.');
    } else {
      setStatus('');
      showError(describeError(err));
    }
  } finally {
    running = undefined;
    answerPanel.removeAttribute('aria-busy');
    updateMode();
  }
}

wireThemeToggle(byId<HTMLButtonElement>('theme-toggle'));

ui.connectForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void connect();
});
ui.askForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void send();
});
ui.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    ui.askForm.requestSubmit();
  }
});
ui.stop.addEventListener('click', () => running?.abort());
ui.provider.addEventListener('change', () => {
  rememberChoice();
  void loadModels();
});
ui.model.addEventListener('change', () => {
  rememberChoice();
  updateMode();
});

ui.key.value = session.get(KEY_STORAGE);
if (ui.key.value) void connect();
