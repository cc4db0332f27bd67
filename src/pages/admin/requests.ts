// The request log: filters, newest first, paged with the API's cursor.
import { byId, h } from '../shared/dom';
import { api, formatCount, formatUsd, type List, type UsageRecord } from './api';
import type { Shell } from './shell';

const PAGE_SIZE = 20;

export function requestsSection(shell: Shell) {
  const tbody = byId<HTMLTableElement>('requests-table').tBodies[0]!;
  const filters = {
    user: byId<HTMLInputElement>('filter-user'),
    provider: byId<HTMLInputElement>('filter-provider'),
    model: byId<HTMLInputElement>('filter-model'),
    status: byId<HTMLInputElement>('filter-status'),
  };
  const newer = byId<HTMLButtonElement>('requests-newer');
  const older = byId<HTMLButtonElement>('requests-older');
  const pageLabel = byId<HTMLSpanElement>('requests-page');
  /** The cursors of the pages shown so far: the last one is the current page's. */
  let cursors: (string | undefined)[] = [undefined];
  let next: string | null = null;

  function query(cursor: string | undefined) {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    for (const [name, input] of Object.entries(filters)) if (input.value.trim()) params.set(name, input.value.trim());
    if (cursor) params.set('cursor', cursor);
    return `/admin/requests?${params}`;
  }

  const row = (r: UsageRecord) =>
    h('tr', {}, [
      h('td', { textContent: r.time.replace('T', ' ').slice(0, 19) }),
      h('td', { textContent: r.user }),
      h('td', { textContent: r.provider }),
      h('td', { textContent: r.model ?? '' }),
      h('td', { className: r.status >= 400 ? 'state-bad' : '', textContent: String(r.status) }),
      h('td', { className: 'num', textContent: formatCount(r.input_tokens) }),
      h('td', { className: 'num', textContent: formatCount(r.output_tokens) }),
      h('td', { className: 'num', textContent: formatUsd(r.cost_usd) }),
      h('td', { className: 'num', textContent: `${formatCount(r.latency_ms)} ms` }),
      h('td', { className: 'mono', textContent: r.id }),
    ]);

  async function show() {
    const page = await api<List<UsageRecord>>(query(cursors.at(-1)));
    next = page.next ?? null;
    tbody.replaceChildren(
      ...(page.data.length ? page.data.map(row) : [h('tr', {}, [h('td', { colSpan: 10, className: 'empty', textContent: 'No requests match.' })])]),
    );
    newer.disabled = cursors.length <= 1;
    older.disabled = next === null;
    pageLabel.textContent = `Page ${cursors.length}`;
  }

  byId<HTMLFormElement>('request-filters').addEventListener('submit', (event) => {
    event.preventDefault();
    cursors = [undefined];
    shell.run(show);
  });
  older.addEventListener('click', () => {
    cursors.push(next!);
    shell.run(show);
  });
  newer.addEventListener('click', () => {
    cursors.pop();
    shell.run(show);
  });

  return { load: show };
}
