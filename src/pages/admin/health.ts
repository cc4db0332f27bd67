// Provider key health and the gateway's dependency checks, from GET /healthz (operator view).
import { byId, h } from '../shared/dom';
import { api, type Health } from './api';
import type { Shell } from './shell';

const CHECK_NAMES: Record<string, string> = {
  vault: 'Vault',
  kv: 'KV',
  d1: 'D1',
  limiter: 'Rate limiter',
  users: 'Users',
  keyHealth: 'Key health store',
  cache: 'Cache API',
};

export function healthSection(shell: Shell) {
  const tbody = byId<HTMLTableElement>('health-table').tBodies[0]!;

  async function load() {
    // A gateway that can serve no request answers 503 with the same report.
    const report = await api<Health>('/healthz', { accept: [503] });
    const status = byId('health-status');
    status.textContent = `Gateway status: ${report.status}`;
    status.className = `summary ${report.status === 'ok' ? 'state-good' : 'state-bad'}`;
    byId('health-checks').replaceChildren(
      ...Object.entries(report.checks).map(([name, check]) =>
        h('li', { className: check.ok ? 'good' : 'bad', textContent: `${CHECK_NAMES[name] ?? name}: ${check.ok ? 'ok' : (check.error ?? 'failing')}` }),
      ),
    );
    const rows = Object.entries(report.providers).map(([id, p]) =>
      h('tr', {}, [
        h('th', { scope: 'row', textContent: id }),
        h('td', { className: 'num', textContent: String(p.keys) }),
        h('td', { className: `num ${p.usable === 0 ? 'state-bad' : 'state-good'}`, textContent: String(p.usable) }),
        h('td', { className: 'num', textContent: String(p.resting) }),
        h('td', { className: 'num', textContent: String(p.expired) }),
        h('td', {
          textContent: p.lastFailure ? `${p.lastFailure.status ?? p.lastFailure.reason} at ${p.lastFailure.at.replace('T', ' ').slice(0, 19)} UTC` : 'none',
        }),
      ]),
    );
    tbody.replaceChildren(...(rows.length ? rows : [h('tr', {}, [h('td', { colSpan: 6, className: 'empty', textContent: 'No providers in the vault.' })])]));
  }

  byId('health-refresh').addEventListener('click', () => shell.run(load));
  return { load };
}
