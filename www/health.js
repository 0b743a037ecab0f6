// A subscription's delivery health: success rate and failure streak, and for the last 24 hours or 7 days a
// stacked bar per hour of attempts by outcome with a line of the hour's p95 time, drawn as SVG (a charting
// library would outweigh the whole dashboard). The same figures are in a table, the chart's text alternative.
import { errorText, h } from './dom.js';
import { state } from './state.js';

const SVG = 'http://www.w3.org/2000/svg';
/** Outcomes, bottom of the stack first, with their labels. */
export const OUTCOMES = [
  ['delivered', 'Delivered'],
  ['retried', 'Retried'],
  ['failed', 'Failed'],
  ['dead_lettered', 'Dead-lettered'],
  ['skipped', 'Skipped'],
];
const WIDTH = 720;
const HEIGHT = 200;
const PAD = { top: 12, right: 44, bottom: 22, left: 36 };

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children.filter(Boolean));
  return el;
}

/** A success rate as people read it: `100 %`, `0 %`, `97.5 %`, or a dash without attempts. */
export const percent = (rate) => (rate == null ? '—' : `${(rate * 100).toFixed(rate === 1 || rate === 0 ? 0 : 1)} %`);
const ms = (v) => (v == null ? '—' : `${v} ms`);
const hourLabel = (iso, week) => {
  const d = new Date(iso);
  return week ? `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${d.getHours()}:00` : `${d.getHours()}:00`;
};

/** The chart of one window's stats. */
export function chart(stats) {
  const week = stats.window === '7d';
  const n = stats.hours.length;
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotW / n;
  const total = (hr) => OUTCOMES.reduce((sum, [key]) => sum + hr[key], 0);
  const maxCount = Math.max(1, ...stats.hours.map(total));
  const maxMs = Math.max(1, ...stats.hours.map((hr) => hr.p95_ms ?? 0));
  const y = (count) => PAD.top + plotH - (count / maxCount) * plotH;
  const yMs = (v) => PAD.top + plotH - (v / maxMs) * plotH;

  const bars = stats.hours.map((hr, i) => {
    let base = 0;
    const x = PAD.left + i * slot + slot * 0.1;
    const parts = OUTCOMES.filter(([key]) => hr[key] > 0).map(([key, label]) => {
      const top = base + hr[key];
      const tip = svg('title');
      tip.textContent = `${hourLabel(hr.hour, week)}: ${hr[key]} ${label.toLowerCase()}`;
      const rect = svg('rect', { class: `bar outcome-${key}`, x: x.toFixed(2), width: (slot * 0.8).toFixed(2), y: y(top).toFixed(2), height: (y(base) - y(top)).toFixed(2) }, tip);
      base = top;
      return rect;
    });
    return svg('g', { class: 'hour', 'data-hour': hr.hour }, ...parts);
  });
  const points = stats.hours
    .map((hr, i) => (hr.p95_ms == null ? null : `${(PAD.left + (i + 0.5) * slot).toFixed(2)},${yMs(hr.p95_ms).toFixed(2)}`))
    .filter(Boolean);
  const axisText = (x, yy, text, anchor = 'end') => {
    const t = svg('text', { x, y: yy, 'text-anchor': anchor, class: 'axis' });
    t.textContent = text;
    return t;
  };
  const every = week ? 24 : 6;
  const ticks = stats.hours
    .map((hr, i) => (i % every === 0 ? axisText(PAD.left + i * slot, HEIGHT - 6, hourLabel(hr.hour, week), 'start') : null))
    .filter(Boolean);
  const summary = `${stats.window === '7d' ? 'Last 7 days' : 'Last 24 hours'}: ${OUTCOMES.map(([key, label]) => `${stats.totals[key]} ${label.toLowerCase()}`).join(', ')}; p95 ${ms(stats.totals.p95_ms)}.`;
  const title = svg('title', { id: `chart-title-${stats.subscription_id}` });
  title.textContent = summary;
  return svg('svg', { class: 'health-chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-labelledby': title.id, preserveAspectRatio: 'none' },
    title,
    svg('line', { class: 'axis-line', x1: PAD.left, x2: WIDTH - PAD.right, y1: PAD.top + plotH, y2: PAD.top + plotH }),
    axisText(PAD.left - 4, PAD.top + 8, String(maxCount)), axisText(PAD.left - 4, PAD.top + plotH, '0'),
    axisText(WIDTH - PAD.right + 4, PAD.top + 8, `${maxMs} ms`, 'start'),
    ...bars,
    points.length > 1 && svg('polyline', { class: 'latency', points: points.join(' '), fill: 'none' }),
    ...points.map((p) => { const [cx, cy] = p.split(','); return svg('circle', { class: 'latency-point', cx, cy, r: 3 }); }),
    ...ticks);
}

/** The figures as a table: the chart's text alternative, and its data for anyone reading it. */
function table(stats) {
  const week = stats.window === '7d';
  const rows = stats.hours.filter((hr) => OUTCOMES.some(([key]) => hr[key] > 0));
  return h('table', { class: 'health-table' },
    h('caption', {}, 'Attempts per hour by outcome, with p50 and p95 times (hours without attempts are left out)'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Hour'), ...OUTCOMES.map(([, label]) => h('th', { scope: 'col' }, label)),
      h('th', { scope: 'col' }, 'p50'), h('th', { scope: 'col' }, 'p95'))),
    h('tbody', {}, rows.map((hr) => h('tr', {}, h('th', { scope: 'row' }, hourLabel(hr.hour, week)),
      ...OUTCOMES.map(([key]) => h('td', { 'data-outcome': key }, String(hr[key]))), h('td', {}, ms(hr.p50_ms)), h('td', {}, ms(hr.p95_ms))))),
    h('tfoot', {}, h('tr', {}, h('th', { scope: 'row' }, 'Total'),
      ...OUTCOMES.map(([key]) => h('td', { 'data-outcome': key }, String(stats.totals[key]))), h('td', {}, ms(stats.totals.p50_ms)), h('td', {}, ms(stats.totals.p95_ms)))));
}

/** The health section of one subscription's card. `onStats` hears every window loaded (for the card's summary). */
export function healthPanel(id, onStats) {
  const windowSelect = h('select', { 'aria-label': 'Health window' },
    h('option', { value: '24h' }, 'Last 24 hours'), h('option', { value: '7d' }, 'Last 7 days'));
  const status = h('p', { class: 'state', role: 'status' });
  const figure = h('figure', { class: 'health' });
  const legend = h('ul', { class: 'legend', 'aria-hidden': 'true' },
    ...OUTCOMES.map(([key, label]) => h('li', {}, h('span', { class: `swatch outcome-${key}` }), label)),
    h('li', {}, h('span', { class: 'swatch latency' }), 'p95 time'));
  const reload = h('button', { type: 'button', class: 'secondary small' }, 'Reload health');
  const el = h('section', { class: 'health-panel', 'aria-label': 'Delivery health' },
    h('div', { class: 'row spread' }, h('h3', {}, 'Delivery health'), h('div', { class: 'row' }, windowSelect, reload)), status, figure);

  async function load() {
    status.classList.remove('error');
    status.textContent = 'Loading delivery health…';
    try {
      const stats = await state.client.stats(id, windowSelect.value);
      figure.dataset.totals = JSON.stringify(stats.totals);
      figure.dataset.window = stats.window;
      figure.replaceChildren(chart(stats), legend,
        h('figcaption', {}, `Success rate ${percent(stats.totals.success_rate)} · failure streak ${stats.failure_streak} · p50 ${ms(stats.totals.p50_ms)} · p95 ${ms(stats.totals.p95_ms)}`),
        h('details', {}, h('summary', {}, 'Figures as a table'), table(stats)));
      status.textContent = '';
      onStats?.(stats);
    } catch (err) {
      status.classList.add('error');
      status.textContent = `Could not load delivery health: ${errorText(err)}`;
    }
  }
  windowSelect.addEventListener('change', load);
  reload.addEventListener('click', load);
  return { el, load };
}
