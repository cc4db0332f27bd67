// A provider's keys: shown masked (with a reveal toggle), labelled, marked expired, added and removed.
import { isUsable } from '../../providers/lookup';
import type { Provider, ProviderKey } from '../../vault/schema';
import { field, h, select } from '../shared/dom';
import { type Draft, setOptionalText } from './draft';

const KEY_TYPES: [string, string][] = [
  ['', '(no label)'],
  ['free', 'free'],
  ['paid', 'paid'],
  ['premium', 'premium'],
  ['unlimited', 'unlimited'],
  ['expired', 'expired'],
];

function typeOptions(current: string | undefined) {
  return current && !KEY_TYPES.some(([value]) => value === current) ? [...KEY_TYPES, [current, current] as [string, string]] : KEY_TYPES;
}

/** The last characters of a key, enough to tell keys apart without revealing them. */
const keyTail = (key: string) => (key.length > 12 ? `…${key.slice(-4)}` : '');

export function keysSection(providerId: string, provider: Provider, draft: Draft): HTMLElement {
  const list = h('ul', { className: 'keys', attrs: { 'aria-label': `${providerId} keys` } });

  function row(key: ProviderKey, index: number) {
    const name = `${providerId} key ${index + 1}`;
    const secret = h('input', { type: 'password', value: key.key, required: true, spellcheck: false, autocomplete: 'off', className: 'mono' });
    const tail = h('span', { className: 'key-tail', textContent: keyTail(key.key), attrs: { 'aria-hidden': 'true' } });
    secret.addEventListener('input', () => {
      key.key = secret.value;
      tail.textContent = keyTail(secret.value);
      draft.changed();
    });
    const reveal = h('button', { type: 'button', textContent: 'Show', attrs: { 'aria-pressed': 'false', 'aria-label': `Show ${name}` } });
    reveal.addEventListener('click', () => {
      const show = secret.type === 'password';
      secret.type = show ? 'text' : 'password';
      reveal.setAttribute('aria-pressed', String(show));
      tail.hidden = show;
    });
    const owner = h('input', { value: key.owner ?? '', autocomplete: 'off' });
    owner.addEventListener('input', () => {
      setOptionalText(key, 'owner', owner.value);
      draft.changed();
    });
    const type = select(typeOptions(key.type), key.type ?? '');
    const expiresAt = h('input', { value: key.expiresAt ?? '', placeholder: 'optional', spellcheck: false, className: 'mono' });
    const state = h('span', { className: 'key-state' });
    const item = h('li', { className: 'key' });
    const showState = () => {
      const usable = isUsable(key);
      item.classList.toggle('unusable', !usable);
      state.textContent = usable ? '' : key.type === 'expired' ? 'expired: never used' : 'past its expiry date: not used';
    };
    type.addEventListener('change', () => {
      setOptionalText(key, 'type', type.value);
      showState();
      draft.changed();
    });
    expiresAt.addEventListener('input', () => {
      const valid = expiresAt.value.trim() === '' || !Number.isNaN(Date.parse(expiresAt.value));
      expiresAt.setCustomValidity(valid ? '' : 'an ISO 8601 date such as 2027-01-01T00:00:00Z');
      expiresAt.setAttribute('aria-invalid', String(!valid));
      if (!valid) return;
      setOptionalText(key, 'expiresAt', expiresAt.value);
      showState();
      draft.changed();
    });
    const remove = h('button', { type: 'button', className: 'danger', textContent: 'Remove', attrs: { 'aria-label': `Remove ${name}` } });
    remove.addEventListener('click', () => {
      provider.keys.splice(index, 1);
      render();
      draft.changed();
      draft.announce(`Removed ${name}.`);
      (list.querySelectorAll<HTMLInputElement>('.key-secret input')[index] ?? newKey).focus();
    });
    secret.id = `key-${providerId}-${index}`;
    item.append(
      h('div', { className: 'field key-secret' }, [
        h('div', { className: 'key-label' }, [h('label', { htmlFor: secret.id, textContent: `Key ${index + 1}` }), state]),
        h('div', { className: 'inline' }, [secret, tail, reveal]),
      ]),
      field('Owner', owner),
      field('Type', type),
      field('Expires at', expiresAt, 'field key-expires'),
      h('div', { className: 'key-actions' }, [remove]),
    );
    showState();
    return item;
  }

  function render() {
    list.replaceChildren(...provider.keys.map(row));
    if (provider.keys.length === 0) list.append(h('li', { className: 'empty', textContent: 'No keys: this provider cannot be used until you add one.' }));
  }

  const newKey = h('input', { type: 'password', required: true, spellcheck: false, autocomplete: 'off', className: 'mono' });
  const newOwner = h('input', { autocomplete: 'off' });
  const newType = select(
    KEY_TYPES.filter(([value]) => value !== 'expired'),
    '',
  );
  const addForm = h('form', { className: 'add add-key', method: 'post', action: '/vault' }, [
    field('New key', newKey),
    field('Owner', newOwner),
    field('Type', newType),
    h('button', { type: 'submit', textContent: 'Add key' }),
  ]);
  addForm.addEventListener('submit', (event) => {
    event.preventDefault();
    const key: ProviderKey = { key: newKey.value.trim() };
    setOptionalText(key, 'owner', newOwner.value);
    setOptionalText(key, 'type', newType.value);
    provider.keys.push(key);
    render();
    draft.changed();
    draft.announce(`Added ${providerId} key ${provider.keys.length}.`);
    addForm.reset();
  });

  render();
  return h('section', { className: 'keys-section', attrs: { 'aria-label': `${providerId} keys` } }, [h('h3', { textContent: 'Keys' }), list, addForm]);
}
