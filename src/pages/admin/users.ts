// The users table: create (the key shown once, with a copy button), edit, disable, rotate, delete.
import { byId, field, h } from '../shared/dom';
import { api, formatCount, formatUsd, type List, type User } from './api';
import { confirmAction, type Shell } from './shell';

type FieldName = 'rpm' | 'providers' | 'models' | 'monthlyBudgetUsd' | 'dailyTokens' | 'expiresAt';

const FIELDS: { name: FieldName; label: string; type: 'int' | 'number' | 'list' | 'date'; hint: string }[] = [
  { name: 'rpm', label: 'Requests per minute', type: 'int', hint: 'e.g. 60' },
  { name: 'monthlyBudgetUsd', label: 'Monthly budget (USD)', type: 'number', hint: 'e.g. 25' },
  { name: 'dailyTokens', label: 'Tokens per day', type: 'int', hint: 'e.g. 200000' },
  { name: 'providers', label: 'Providers (comma-separated)', type: 'list', hint: 'all' },
  { name: 'models', label: 'Models (comma-separated)', type: 'list', hint: 'all, or groq/*' },
  { name: 'expiresAt', label: 'Expires (UTC)', type: 'date', hint: '' },
];

interface Form {
  inputs: Map<FieldName, HTMLInputElement>;
  disabled: HTMLInputElement;
}

function buildFields(container: HTMLElement, prefix: string): Form {
  const inputs = new Map<FieldName, HTMLInputElement>();
  const nodes = FIELDS.map((f) => {
    const input = h('input', {
      id: `${prefix}-${f.name}`,
      type: f.type === 'date' ? 'datetime-local' : f.type === 'list' ? 'text' : 'number',
      placeholder: f.hint,
      spellcheck: false,
      autocapitalize: 'off',
    });
    if (f.type === 'int') input.step = '1';
    if (f.type === 'number') input.step = 'any';
    if (f.type !== 'list' && f.type !== 'date') input.min = f.name === 'rpm' ? '1' : '0';
    inputs.set(f.name, input);
    return field(f.label, input);
  });
  const disabled = h('input', { id: `${prefix}-disabled`, type: 'checkbox' });
  container.append(...nodes, h('div', { className: 'check-field' }, [disabled, h('label', { htmlFor: disabled.id, textContent: 'Disabled' })]));
  return { inputs, disabled };
}

/** The form's values for the API: an empty field is `null` (no limit). */
function readForm(form: Form): Record<FieldName | 'disabled', unknown> {
  const values = {} as Record<FieldName | 'disabled', unknown>;
  for (const f of FIELDS) {
    const raw = form.inputs.get(f.name)!.value.trim();
    values[f.name] =
      raw === ''
        ? null
        : f.type === 'list'
          ? raw
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : f.type === 'date'
            ? new Date(`${raw}Z`).toISOString()
            : Number(raw);
  }
  values.disabled = form.disabled.checked;
  return values;
}

function fillForm(form: Form, user: User | undefined) {
  for (const f of FIELDS) {
    const value = user?.[f.name] ?? null;
    form.inputs.get(f.name)!.value =
      value === null ? '' : Array.isArray(value) ? value.join(', ') : f.type === 'date' ? String(value).slice(0, 16) : String(value);
  }
  form.disabled.checked = user?.disabled ?? false;
}

const limitText = (value: number | null, format: (n: number) => string = formatCount) => (value === null ? 'none' : format(value));
const listText = (value: string[] | null) => (value === null ? 'all' : value.join(', ') || 'none');

export function usersSection(shell: Shell) {
  const tbody = byId<HTMLTableElement>('users-table').tBodies[0]!;
  const createForm = byId<HTMLFormElement>('create-user');
  const nameInput = h('input', { id: 'create-name', required: true, spellcheck: false, autocapitalize: 'off', pattern: '[A-Za-z0-9][A-Za-z0-9._@\\-]{0,63}' });
  byId('create-fields').append(field('Name', nameInput));
  const create = buildFields(byId('create-fields'), 'create');
  const editDialog = byId<HTMLDialogElement>('edit-dialog');
  const edit = buildFields(byId('edit-fields'), 'edit');
  const newKey = byId<HTMLDivElement>('new-key');
  const newKeyValue = byId<HTMLInputElement>('new-key-value');
  let editing: User | undefined;

  function showKey(name: string, key: string, what: string) {
    byId('new-key-text').textContent = `${what} key for ${name}:`;
    newKeyValue.value = key;
    newKey.hidden = false;
    newKeyValue.focus();
    newKeyValue.select();
  }

  byId('new-key-copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(newKeyValue.value);
      shell.announce('Key copied to the clipboard.');
    } catch {
      newKeyValue.select();
      shell.announce('Copying was refused by the browser: the key is selected, press Ctrl+C.');
    }
  });
  byId('new-key-done').addEventListener('click', () => {
    newKeyValue.value = '';
    newKey.hidden = true;
  });

  function row(user: User) {
    const actions = h('div', { className: 'buttons' }, [
      h('button', { type: 'button', textContent: 'Edit', onclick: () => openEdit(user), attrs: { 'aria-label': `Edit ${user.name}` } }),
      h('button', {
        type: 'button',
        textContent: user.disabled ? 'Enable' : 'Disable',
        attrs: { 'aria-label': `${user.disabled ? 'Enable' : 'Disable'} ${user.name}` },
        onclick: () =>
          shell.run(async () => {
            await api(`/admin/users/${encodeURIComponent(user.name)}`, { method: 'PATCH', body: { disabled: !user.disabled } });
            shell.announce(`${user.name} ${user.disabled ? 'enabled' : 'disabled'}.`);
            await load();
          }),
      }),
      h('button', {
        type: 'button',
        textContent: 'Rotate key',
        attrs: { 'aria-label': `Rotate the key of ${user.name}` },
        onclick: () =>
          shell.run(async () => {
            if (!(await confirmAction(`Rotate the key of ${user.name}?`, 'The current key stops working at once.', 'Rotate'))) return;
            const { key } = await api<{ key: string }>(`/admin/users/${encodeURIComponent(user.name)}/rotate`, { method: 'POST' });
            await load();
            showKey(user.name, key, 'New');
          }),
      }),
      h('button', {
        type: 'button',
        className: 'danger',
        textContent: 'Delete',
        attrs: { 'aria-label': `Delete ${user.name}` },
        onclick: () =>
          shell.run(async () => {
            if (
              !(await confirmAction(
                `Delete ${user.name}?`,
                'Their key stops working at once and their stored responses are deleted. Their usage records stay in the reports.',
                'Delete',
              ))
            )
              return;
            await api(`/admin/users/${encodeURIComponent(user.name)}`, { method: 'DELETE' });
            shell.announce(`${user.name} deleted.`);
            await load();
          }),
      }),
    ]);
    return h('tr', { className: user.disabled ? 'disabled' : '' }, [
      h('th', { scope: 'row', textContent: user.name }),
      h('td', { className: 'mono', textContent: user.keyHint ? `…${user.keyHint}` : '' }),
      h('td', { className: 'num', textContent: limitText(user.rpm) }),
      h('td', { className: 'list', textContent: listText(user.providers) }),
      h('td', { className: 'list', textContent: listText(user.models) }),
      h('td', { className: 'num', textContent: user.monthlyBudgetUsd === null ? 'none' : formatUsd(user.monthlyBudgetUsd) }),
      h('td', { className: 'num', textContent: limitText(user.dailyTokens) }),
      h('td', { textContent: user.expiresAt ? user.expiresAt.replace('T', ' ').replace(/:00(\.000)?Z$/, ' UTC') : 'never' }),
      h('td', { className: user.disabled ? 'state-bad' : 'state-good', textContent: user.disabled ? 'disabled' : 'active' }),
      h('td', {}, [actions]),
    ]);
  }

  async function load() {
    const { data } = await api<List<User>>('/admin/users');
    tbody.replaceChildren(...(data.length ? data.map(row) : [h('tr', {}, [h('td', { colSpan: 10, className: 'empty', textContent: 'No users yet.' })])]));
  }

  function openEdit(user: User) {
    editing = user;
    byId('edit-title').textContent = `Edit ${user.name}`;
    fillForm(edit, user);
    editDialog.showModal();
  }

  byId('edit-cancel').addEventListener('click', () => editDialog.close());
  byId<HTMLFormElement>('edit-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const user = editing!;
    shell.run(async () => {
      await api(`/admin/users/${encodeURIComponent(user.name)}`, { method: 'PATCH', body: readForm(edit) });
      editDialog.close();
      shell.announce(`${user.name} saved.`);
      await load();
    });
  });

  createForm.addEventListener('submit', (event) => {
    event.preventDefault();
    shell.run(async () => {
      // A new user: only the limits that are set.
      const limits = Object.fromEntries(
        Object.entries(readForm(create)).filter(([name, value]) => value !== null && !(name === 'disabled' && value === false)),
      );
      const created = await api<{ name: string; key: string }>('/admin/users', { method: 'POST', body: { name: nameInput.value.trim(), ...limits } });
      createForm.reset();
      await load();
      showKey(created.name, created.key, 'The');
    });
  });

  return { load };
}
