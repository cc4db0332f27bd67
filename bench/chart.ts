// The run's key figures as an SVG of horizontal bar panels (no dependencies, readable on GitHub).
import { CONCURRENCY } from './config';
import type { computeFigures, RunData, TargetName } from './report';

const COLORS: Record<TargetName, string> = { direct: '#9ca3af', bare: '#60a5fa', gateway: '#f97316', portkey: '#a78bfa' };
const NAMES: Record<TargetName, string> = { direct: 'direct', bare: 'bare Worker', gateway: 'Switchyard', portkey: 'Portkey' };

interface Panel {
  title: string;
  unit: string;
  digits: number;
  rows: { label: string; bars: { target: TargetName; value: number }[] }[];
}

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');

const WIDTH = 760;
const LABEL_W = 190;
const BAR_H = 14;
const GAP = 4;

function panelSvg(panel: Panel, top: number): { svg: string; height: number } {
  const max = Math.max(...panel.rows.flatMap((r) => r.bars.map((b) => b.value)).filter(Number.isFinite), 1e-9);
  const scale = (WIDTH - LABEL_W - 90) / max;
  const parts = [`<text x="10" y="${top + 18}" class="title">${escape(panel.title)}</text>`];
  let y = top + 30;
  for (const row of panel.rows) {
    const rowH = row.bars.length * (BAR_H + GAP);
    parts.push(`<text x="${LABEL_W - 8}" y="${y + rowH / 2 + 3}" class="label" text-anchor="end">${escape(row.label)}</text>`);
    for (const bar of row.bars) {
      const width = Number.isFinite(bar.value) ? Math.max(0, bar.value * scale) : 0;
      const text = Number.isFinite(bar.value) ? `${bar.value.toFixed(panel.digits)} ${panel.unit}` : 'n/a';
      parts.push(
        `<rect x="${LABEL_W}" y="${y}" width="${width.toFixed(1)}" height="${BAR_H}" fill="${COLORS[bar.target]}"><title>${NAMES[bar.target]}: ${text}</title></rect>`,
        `<text x="${LABEL_W + width + 4}" y="${y + BAR_H - 3}" class="value">${escape(text)}</text>`,
      );
      y += BAR_H + GAP;
    }
    y += 8;
  }
  return { svg: parts.join('\n'), height: y - top };
}

export function barChart(data: RunData, figures: ReturnType<typeof computeFigures>): string {
  const figure = (prefix: string) => figures.find((f) => f.label.startsWith(prefix))!;
  const added = (prefix: string, label: string) => ({
    label,
    bars: (['bare', 'gateway', 'portkey'] as const).map((target) => ({ target, value: figure(prefix).against(target, 'direct') })),
  });
  const all = (prefix: string) => [
    { label: '', bars: (['direct', 'bare', 'gateway', 'portkey'] as const).map((target) => ({ target, value: figure(prefix).values[target]! })) },
  ];
  const panels: Panel[] = [
    {
      title: 'Latency added over calling the upstream directly (median of rounds; less is better)',
      unit: 'ms',
      digits: 2,
      rows: [
        added('Latency p50, sequential', 'p50, sequential'),
        added('Latency p99, sequential', 'p99, sequential'),
        added('Latency p50, concurrency', `p50, concurrency ${CONCURRENCY}`),
        added('Stream first byte p50', 'stream first byte, p50'),
      ],
    },
    { title: `Throughput at concurrency ${CONCURRENCY} (more is better)`, unit: 'req/s', digits: 0, rows: all('Throughput, concurrency') },
    {
      title: 'CPU time per request of the process under test, sequential (less is better)',
      unit: 'ms',
      digits: 3,
      rows: all('CPU time per request, sequential'),
    },
  ];
  let top = 44;
  const bodies: string[] = [];
  for (const panel of panels) {
    const { svg, height } = panelSvg(panel, top);
    bodies.push(svg);
    top += height + 12;
  }
  const legend = (['direct', 'bare', 'gateway', 'portkey'] as const)
    .map(
      (t, i) =>
        `<rect x="${10 + i * 150}" y="${top}" width="12" height="12" fill="${COLORS[t]}"/><text x="${27 + i * 150}" y="${top + 10}" class="label">${NAMES[t]}</text>`,
    )
    .join('\n');
  const height = top + 24;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif">`,
    '<style>.title{font-size:13px;font-weight:600;fill:#111}.label{font-size:12px;fill:#333}.value{font-size:11px;fill:#333}.head{font-size:15px;font-weight:700;fill:#111}.sub{font-size:11px;fill:#555}</style>',
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" class="head">Switchyard benchmark</text>`,
    `<text x="10" y="36" class="sub">${escape(`${data.date.slice(0, 10)} · ${data.machine.cores} cores · ${data.quick ? 'quick' : 'full'} run, ${data.plan.rounds} rounds · loopback upstream`)}</text>`,
    ...bodies,
    legend,
    '</svg>',
    '',
  ].join('\n');
}
