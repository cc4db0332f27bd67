// A provider's models as an ordered list: dragged with SortableJS (mouse and touch) or moved with
// the arrow keys on a row's handle. The visible order is the preference order: after every change
// the priorities are rewritten 0, 10, 20, … down the list.
import Sortable from 'sortablejs';
import { modelsByPriority } from '../../providers/lookup';
import type { Model, ModelUsage, Provider } from '../../vault/schema';
import { field, h, select } from '../shared/dom';
import { describeError } from '../shared/errors';
import { discoverModels, mergeModels } from './discover';
import { type Draft, setOptionalCount, setOptionalPrice, setOptionalText } from './draft';

const USAGE_LABELS = {
  chat: 'Chat',
  embedding: 'Embedding',
  'image-generation': 'Image generation',
  transcription: 'Transcription',
  tts: 'Text to speech',
} satisfies Record<ModelUsage, string>;

const PRIORITY_STEP = 10;

function usageOptions(current: string | undefined) {
  const options: [string, string][] = [['', '(not set: chat)'], ...Object.entries(USAGE_LABELS)];
  if (current && !(current in USAGE_LABELS)) options.push([current, current]);
  return options;
}

function countInput(model: Model, name: 'contextWindow' | 'maxOutputTokens', draft: Draft) {
  const input = h('input', { type: 'number', min: '1', step: '1', value: String(model[name] ?? ''), inputMode: 'numeric' });
  input.addEventListener('input', () => {
    const valid = setOptionalCount(model, name, input);
    input.setAttribute('aria-invalid', String(!valid));
    input.setCustomValidity(valid ? '' : 'a positive whole number, or empty');
    if (valid) draft.changed();
  });
  return input;
}

function priceInput(model: Model, name: 'inputPrice' | 'outputPrice' | 'cachedInputPrice', draft: Draft) {
  const input = h('input', { type: 'number', min: '0', step: 'any', value: String(model[name] ?? ''), inputMode: 'decimal', placeholder: 'unpriced' });
  input.addEventListener('input', () => {
    const valid = setOptionalPrice(model, name, input);
    input.setAttribute('aria-invalid', String(!valid));
    input.setCustomValidity(valid ? '' : 'USD per 1M tokens (a number ≥ 0), or empty');
    if (valid) draft.changed();
  });
  return input;
}

export function modelsSection(providerId: string, provider: Provider, draft: Draft): HTMLElement {
  let order = modelsByPriority(provider);
  const hintId = `models-hint-${providerId}`;
  const list = h('ol', { className: 'models', attrs: { 'aria-label': `${providerId} models, in order of preference` } });
  const status = h('p', { className: 'status', attrs: { role: 'status' } });
  const error = h('p', { className: 'error', hidden: true, attrs: { role: 'alert' } });

  function commit(next: Model[]) {
    provider.models.splice(0, provider.models.length, ...next);
    next.forEach((model, index) => {
      model.priority = index * PRIORITY_STEP;
    });
    order = next;
    render();
    draft.changed();
  }

  function move(from: number, to: number, keepFocus: boolean) {
    if (from === to || to < 0 || to >= order.length) return;
    const next = [...order];
    const [moved] = next.splice(from, 1);
    next.splice(to, 0, moved!);
    commit(next);
    if (keepFocus) list.querySelectorAll<HTMLButtonElement>('.handle')[to]?.focus();
    draft.announce(`${moved!.id} moved to position ${to + 1} of ${next.length}.`);
  }

  function row(model: Model, index: number) {
    const handle = h('button', {
      type: 'button',
      className: 'handle',
      textContent: '⠿',
      attrs: { 'aria-label': `Move ${model.id} (position ${index + 1} of ${order.length})`, 'aria-describedby': hintId },
    });
    handle.addEventListener('keydown', (event) => {
      const targets: Record<string, number> = { ArrowUp: index - 1, ArrowDown: index + 1, Home: 0, End: order.length - 1 };
      const to = targets[event.key];
      if (to === undefined) return;
      event.preventDefault();
      move(index, to, true);
    });
    const usage = select(usageOptions(model.usage), model.usage ?? '');
    usage.addEventListener('change', () => {
      setOptionalText(model, 'usage', usage.value);
      draft.changed();
    });
    const remove = h('button', { type: 'button', className: 'danger', textContent: 'Remove', attrs: { 'aria-label': `Remove model ${model.id}` } });
    remove.addEventListener('click', () => {
      commit(order.filter((m) => m !== model));
      draft.announce(`Removed model ${model.id}.`);
      (list.querySelectorAll<HTMLButtonElement>('.handle')[Math.min(index, order.length - 1)] ?? addId).focus();
    });
    return h('li', { className: 'model' }, [
      handle,
      h('div', { className: 'model-name' }, [
        h('span', { className: 'mono model-id', textContent: model.id }),
        h('span', { className: 'priority', textContent: `priority ${model.priority ?? '–'}` }),
      ]),
      h('div', { className: 'model-fields' }, [
        field('Usage', usage),
        field('Context window', countInput(model, 'contextWindow', draft)),
        field('Max output tokens', countInput(model, 'maxOutputTokens', draft)),
        field('Input $/1M', priceInput(model, 'inputPrice', draft)),
        field('Output $/1M', priceInput(model, 'outputPrice', draft)),
        field('Cached input $/1M', priceInput(model, 'cachedInputPrice', draft)),
      ]),
      remove,
    ]);
  }

  function render() {
    list.replaceChildren(...order.map(row));
    if (order.length === 0) list.append(h('li', { className: 'empty', textContent: 'No models yet: add one below or refresh from the API.' }));
  }

  Sortable.create(list, {
    handle: '.handle',
    draggable: '.model',
    animation: matchMedia('(prefers-reduced-motion: reduce)').matches ? 0 : 150,
    // Pointer events instead of native HTML5 drag-and-drop: the same behaviour with mouse, pen and touch.
    forceFallback: true,
    fallbackOnBody: true,
    ghostClass: 'drag-ghost',
    fallbackClass: 'drag-clone',
    onEnd: (event) => {
      if (event.oldIndex !== undefined && event.newIndex !== undefined) move(event.oldIndex, event.newIndex, false);
    },
  });

  const refresh = h('button', { type: 'button', textContent: 'Refresh from API' });
  refresh.addEventListener('click', async () => {
    refresh.disabled = true;
    error.hidden = true;
    status.textContent = `Asking ${providerId} for its models…`;
    try {
      const merge = mergeModels(order, await discoverModels(providerId, provider));
      const parts = [`${providerId} lists ${merge.added.length + order.length - merge.unlisted.length} models`];
      parts.push(merge.added.length ? `${merge.added.length} new, added at the bottom` : 'no new ones');
      if (merge.completed.length) parts.push(`limits filled in for ${merge.completed.length}`);
      if (merge.unlisted.length) parts.push(`not listed but kept: ${merge.unlisted.join(', ')}`);
      if (merge.added.length || merge.completed.length) commit(merge.models);
      status.textContent = `${parts.join('; ')}.`;
    } catch (err) {
      status.textContent = '';
      error.textContent = describeError(err);
      error.hidden = false;
    } finally {
      refresh.disabled = false;
    }
  });

  const addId = h('input', { required: true, spellcheck: false, autocapitalize: 'off', className: 'mono' });
  const addUsage = select(usageOptions(undefined).slice(1), 'chat');
  const addForm = h('form', { className: 'add add-model', method: 'post', action: '/vault' }, [
    field('New model id', addId),
    field('Usage', addUsage),
    h('button', { type: 'submit', textContent: 'Add model' }),
  ]);
  addForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const id = addId.value.trim();
    if (order.some((m) => m.id === id)) {
      addId.setCustomValidity(`${id} is already in the list`);
      addId.reportValidity();
      return;
    }
    commit([...order, { id, usage: addUsage.value as ModelUsage }]);
    draft.announce(`Added model ${id} at position ${order.length}.`);
    addForm.reset();
  });
  addId.addEventListener('input', () => addId.setCustomValidity(''));

  render();
  return h('section', { className: 'models-section', attrs: { 'aria-label': `${providerId} models` } }, [
    h('div', { className: 'section-head' }, [h('h3', { textContent: 'Models' }), refresh]),
    h('p', {
      id: hintId,
      className: 'hint',
      textContent: 'Drag ⠿ to reorder, or focus it and press ↑ or ↓ (Home and End for top and bottom). The first model is preferred.',
    }),
    status,
    error,
    list,
    addForm,
  ]);
}
