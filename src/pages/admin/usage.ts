// Usage charts: cost or tokens per day, stacked by model or by user (uPlot, bundled), with the same
// numbers in a table, the period's totals and the top users and models. Every number is the API's.
import uPlot from 'uplot';
import { byId, h } from '../shared/dom';
import { api, formatCount, formatUsd, type List, type UsageLine } from './api';
import type { Shell } from './shell';

type Metric = 'cost' | 'tokens';
type StackBy = 'model' | 'user';

// Mid-tone colours that read on the light and the dark background alike.
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

const DAY_MS = 86_400_000;
const isoDay = (time: number) => new Date(time).toISOString().slice(0, 10);

/** Every day from `from` to `to`, inclusive. */
function daysOf(from: string, to: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += DAY_MS) days.push(isoDay(t));
  return days;
}

const valueOf = (line: UsageLine, metric: Metric) => (metric === 'cost' ? line.cost_usd : line.input_tokens + line.output_tokens);
/** A day without requests of a series is 0; an unknown cost (unpriced model) is "—". */
const format = (value: number | null | undefined, metric: Metric) => (metric === 'cost' ? formatUsd(value === undefined ? 0 : value) : formatCount(value ?? 0));
const cssVar = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const seriesName = (line: UsageLine, by: StackBy) => (by === 'model' ? `${line.provider}/${line.model ?? '?'}` : line.user!);

export function usageSection(shell: Shell) {
  const fromInput = byId<HTMLInputElement>('usage-from');
  const toInput = byId<HTMLInputElement>('usage-to');
  const metricSelect = byId<HTMLSelectElement>('usage-metric');
  const stackSelect = byId<HTMLSelectElement>('usage-stack');
  const chartBox = byId<HTMLDivElement>('usage-chart');
  const table = byId<HTMLTableElement>('usage-table');
  let chart: uPlot | undefined;
  /** The latest load: an earlier one that answers later (controls changed quickly) is dropped. */
  let latest = 0;

  const today = Date.now();
  toInput.value = isoDay(today);
  fromInput.value = isoDay(today - 13 * DAY_MS);

  function drawChart(days: string[], names: string[], raw: (number | null | undefined)[][], metric: Metric) {
    // Stacked bars: series k is drawn at the sum of series 0..k, tallest first, so each lower one
    // paints over the bottom of the one before. The legend shows each series' own value.
    const cumulative = raw.map((_, k) => days.map((__, i) => raw.slice(0, k + 1).reduce<number>((sum, values) => sum + (values[i] ?? 0), 0)));
    const order = names.map((_, k) => names.length - 1 - k);
    const axis = { stroke: () => cssVar('--muted'), grid: { stroke: () => cssVar('--border'), width: 1 }, ticks: { stroke: () => cssVar('--border') } };
    const options: uPlot.Options = {
      width: Math.max(280, chartBox.clientWidth),
      height: 280,
      scales: { x: { time: false, range: [-0.6, days.length - 0.4] } },
      axes: [
        { ...axis, incrs: [1, 2, 7, 14, 28], values: (_u, splits) => splits.map((i) => (Number.isInteger(i) && days[i] ? days[i].slice(5) : '')) },
        { ...axis, size: 70, values: (_u, splits) => splits.map((v) => (metric === 'cost' ? `$${v}` : formatCount(v))) },
      ],
      series: [
        { label: 'Day', value: (_u, i) => (i === null || i === undefined ? '' : (days[i] ?? '')) },
        ...order.map((k) => ({
          label: names[k],
          stroke: PALETTE[k % PALETTE.length],
          fill: PALETTE[k % PALETTE.length],
          width: 0,
          paths: uPlot.paths.bars!({ size: [0.7, 48] }),
          points: { show: false },
          value: (_u: uPlot, _v: number, _s: number, i: number | null) => (i === null ? '' : format(raw[k]![i], metric)),
        })),
      ],
      legend: { live: true },
      cursor: { points: { show: false }, drag: { x: false, y: false } },
    };
    chart?.destroy();
    chart = new uPlot(options, [days.map((_, i) => i), ...order.map((k) => cumulative[k]!)], chartBox);
  }

  function fillTable(days: string[], names: string[], raw: (number | null | undefined)[][], totals: Map<string, UsageLine>, metric: Metric) {
    table.tHead!.replaceChildren(
      h('tr', {}, [
        h('th', { scope: 'col', textContent: 'Day' }),
        ...names.map((name) => h('th', { scope: 'col', className: 'num', textContent: name })),
        h('th', { scope: 'col', className: 'num', textContent: 'Total' }),
      ]),
    );
    table.tBodies[0]!.replaceChildren(
      ...days.map((day, i) => {
        const total = totals.get(day);
        return h('tr', {}, [
          h('th', { scope: 'row', textContent: day }),
          ...raw.map((values) => h('td', { className: 'num', textContent: format(values[i], metric) })),
          h('td', { className: 'num', textContent: total ? format(valueOf(total, metric), metric) : format(undefined, metric) }),
        ]);
      }),
    );
  }

  function fillTop(id: string, lines: UsageLine[], label: (line: UsageLine) => string) {
    byId<HTMLTableElement>(id).tBodies[0]!.replaceChildren(
      ...(lines.length
        ? lines
            .slice(0, 10)
            .map((line) =>
              h('tr', {}, [
                h('th', { scope: 'row', textContent: label(line) }),
                h('td', { className: 'num', textContent: formatCount(line.requests) }),
                h('td', { className: 'num', textContent: formatCount(line.input_tokens + line.output_tokens) }),
                h('td', { className: 'num', textContent: formatUsd(line.cost_usd) }),
              ]),
            )
        : [h('tr', {}, [h('td', { colSpan: 4, className: 'empty', textContent: 'No requests in this period.' })])]),
    );
  }

  async function load() {
    const mine = ++latest;
    const [from, to] = [fromInput.value, toInput.value];
    const metric = metricSelect.value as Metric;
    const by = stackSelect.value as StackBy;
    const period = `from=${from}&to=${to}`;
    const stackGroups = by === 'model' ? 'day,provider,model' : 'day,user';
    const usage = (groups: string) => api<List<UsageLine>>(`/admin/usage?${period}${groups ? `&group_by=${groups}` : ''}`);
    const [stacked, perDay, perUser, perModel, total] = await Promise.all([
      usage(stackGroups),
      usage('day'),
      usage('user'),
      usage('provider,model'),
      usage(''),
    ]);
    if (mine !== latest) return;
    const days = daysOf(from, to);
    const dayIndex = new Map(days.map((day, i) => [day, i]));
    // Series ordered as the API ranks them over the period (most expensive first).
    const names = (by === 'model' ? perModel.data : perUser.data).map((line) => seriesName(line, by));
    const raw = names.map(() => days.map((): number | null | undefined => undefined));
    for (const line of stacked.data) raw[names.indexOf(seriesName(line, by))]![dayIndex.get(line.day!)!] = valueOf(line, metric);
    const t = total.data[0]!;
    byId('usage-summary').textContent =
      `${from} to ${to}: ${formatCount(t.requests)} requests (${formatCount(t.errors)} failed), ${formatCount(t.input_tokens)} input and ${formatCount(t.output_tokens)} output tokens, ` +
      `${formatUsd(t.cost_usd)}${t.unpriced_requests ? ` plus ${formatCount(t.unpriced_requests)} unpriced requests` : ''}.`;
    byId('usage-table-caption').textContent = `${metric === 'cost' ? 'Cost (USD)' : 'Tokens'} per day, by ${by}`;
    drawChart(days, names, raw, metric);
    fillTable(days, names, raw, new Map(perDay.data.map((line) => [line.day!, line])), metric);
    fillTop('top-users', perUser.data, (line) => line.user!);
    fillTop('top-models', perModel.data, (line) => `${line.provider}/${line.model ?? '?'}`);
  }

  byId<HTMLFormElement>('usage-controls').addEventListener('submit', (event) => {
    event.preventDefault();
    shell.run(load);
  });
  for (const control of [metricSelect, stackSelect]) control.addEventListener('change', () => shell.run(load));
  new ResizeObserver(() => chart?.setSize({ width: Math.max(280, chartBox.clientWidth), height: 280 })).observe(chartBox);
  // Axis colours follow the theme.
  new MutationObserver(() => chart?.redraw(false, true)).observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });

  return { load };
}
