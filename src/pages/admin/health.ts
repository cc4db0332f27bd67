// Provider key health and the gateway's dependency checks, from GET /healthz (operator view), with
// each provider's routing signals: the moving averages, a small chart of them over the last minutes
// (uPlot, bundled) and each key's headroom as its provider last told it.
import uPlot from 'uplot';
import { byId, h } from '../shared/dom';
import { api, type Health, type ProviderSignals } from './api';
import type { Shell } from './shell';

const cssVar = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const ms = (value: number | null) => (value === null ? '—' : `${Math.round(value)} ms`);
const perSecond = (value: number | null) => (value === null ? '—' : `${value.toFixed(1)} tok/s`);
const percent = (value: number | null) => (value === null ? '—' : `${(100 * value).toFixed(1)} %`);

/** What a key may still send, as its provider said, and when that resets. */
function headroomText(headroom: ProviderSignals['keys'][number]['headroom'], now: number): string {
  if (!headroom) return 'not told';
  const part = (label: string, left: number | undefined, resetAt: number | undefined) =>
    left === undefined || resetAt === undefined || resetAt <= now
      ? []
      : [`${left.toLocaleString('en-US')} ${label} for ${Math.ceil((resetAt - now) / 1000)} s`];
  const parts = [...part('requests', headroom.requests, headroom.requestsResetAt), ...part('tokens', headroom.tokens, headroom.tokensResetAt)];
  return parts.length ? parts.join(', ') : 'reset since';
}

/** A small chart: time to first byte (ms, left) and the error and refusal rates (%, right) over time. */
function signalChart(box: HTMLElement, signals: ProviderSignals): uPlot | undefined {
  if (signals.points.length < 2) return undefined;
  const axis = { stroke: () => cssVar('--muted'), grid: { stroke: () => cssVar('--border'), width: 1 }, ticks: { stroke: () => cssVar('--border') } };
  const times = signals.points.map((p) => p.at / 1000);
  return new uPlot(
    {
      width: Math.max(280, box.clientWidth),
      height: 140,
      scales: { ms: { auto: true }, rate: { range: [0, 100] } },
      axes: [axis, { ...axis, scale: 'ms', size: 50 }, { ...axis, scale: 'rate', side: 1, size: 40, values: (_u, splits) => splits.map((v) => `${v}%`) }],
      series: [
        {},
        { label: 'TTFB ms', scale: 'ms', stroke: '#4e79a7', width: 2 },
        { label: 'errors %', scale: 'rate', stroke: '#e15759', width: 1 },
        { label: '429 %', scale: 'rate', stroke: '#f28e2b', width: 1 },
      ],
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
    },
    [
      times,
      signals.points.map((p) => p.ttfbMs),
      signals.points.map((p) => (p.errorRate === null ? null : 100 * p.errorRate)),
      signals.points.map((p) => (p.refusalRate === null ? null : 100 * p.refusalRate)),
    ],
    box,
  );
}

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
  const signalsBox = byId<HTMLDivElement>('health-signals');
  let charts: uPlot[] = [];

  function showSignals(report: Health) {
    charts.forEach((chart) => chart.destroy());
    charts = [];
    const now = Date.now();
    const cards = Object.entries(report.providers).flatMap(([id, p]) => {
      const signals = p.signals;
      if (!signals?.updatedAt) return [];
      const chartBox = h('div', { className: 'signal-chart' });
      const card = h('div', { className: 'signal-card', attrs: { 'data-provider': id } }, [
        h('h4', { textContent: id }),
        h('p', {
          className: 'summary',
          textContent: `TTFB ${ms(signals.ttfbMs)} · ${perSecond(signals.tokensPerSecond)} · errors ${percent(signals.errorRate)} · 429 ${percent(signals.refusalRate)}`,
        }),
        chartBox,
        h(
          'ul',
          { className: 'checks' },
          signals.keys.map((key) =>
            h('li', {
              textContent: `key #${key.index + 1}: TTFB ${ms(key.ttfbMs)}, errors ${percent(key.errorRate)}, 429 ${percent(key.refusalRate)}; headroom ${headroomText(key.headroom, now)}`,
            }),
          ),
        ),
      ]);
      return [{ card, chartBox, signals }];
    });
    signalsBox.replaceChildren(...(cards.length ? cards.map((c) => c.card) : [h('p', { className: 'empty', textContent: 'No traffic seen yet.' })]));
    for (const { chartBox, signals } of cards) {
      const chart = signalChart(chartBox, signals);
      if (chart) charts.push(chart);
    }
  }

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
    showSignals(report);
  }

  byId('health-refresh').addEventListener('click', () => shell.run(load));
  return { load };
}
