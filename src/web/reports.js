// The reports page: asks /api/reports/KIND?from=&to=&by= (answered by codispatchd from the
// SQL report functions, on its reports connection) and draws a table and an SVG chart.
// Suppressed cells arrive as null with a suppressed flag; they are marked, never drawn.
'use strict';

const DIMS = ['area', 'type', 'priority', 'language', 'race_ethnicity', 'hour'];
const STAFF_DIMS = ['type', 'area', 'hour'];
// The figure each report charts, and a reference line (1 = the overall figure).
const CHART = {
  response: { col: 'response_p90_s', label: 'p90 response (s)' },
  diversion: { col: 'no_police', label: 'share handled without police' },
  language: { col: 'served_in_language', label: 'share served in the caller\'s language' },
  equity: { col: 'police_ratio', label: 'police involvement vs overall (1 = same)', ref: 1 },
  staffing: { col: 'busy_share', label: 'share of unit-hours busy' },
};
const SVGNS = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);

function isoDay(d) {
  return d.toISOString().slice(0, 10);
}

function fillBy(kind, keep) {
  const by = $('by');
  const dims = kind === 'staffing' ? STAFF_DIMS : DIMS;
  const dflt = kind === 'staffing' ? 'type' : kind === 'language' ? 'language' : 'area';
  by.textContent = '';
  for (const d of dims) {
    const o = document.createElement('option');
    o.value = d;
    o.textContent = kind === 'staffing' && d === 'type' ? 'unit type' : d.replace('_', '/');
    by.appendChild(o);
  }
  by.value = dims.includes(keep) ? keep : dflt;
}

function query() {
  const p = new URLSearchParams({ from: $('from').value, to: $('to').value, by: $('by').value });
  return `/api/reports/${encodeURIComponent($('kind').value)}?${p}`;
}

function el(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmt(v) {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return String(Math.round(v * 10000) / 10000);
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

function drawTable(rep) {
  const t = $('table');
  t.textContent = '';
  const head = t.createTHead().insertRow();
  for (const c of rep.columns) {
    const th = document.createElement('th');
    th.textContent = c === 'grp' ? rep.by : c;
    head.appendChild(th);
  }
  const body = t.createTBody();
  rep.rows.forEach((row, i) => {
    const tr = body.insertRow();
    if (row[0] === '(all)') tr.className = 'total';
    tr.dataset.group = row[0];
    row.forEach((v, c) => {
      const td = tr.insertCell();
      if (rep.suppressed[i][c]) {
        td.textContent = 'suppressed';
        td.className = 'suppressed';
        td.dataset.suppressed = 'true';
        td.title = `fewer than ${rep.min_cell} calls, or hidden so that such a group cannot be found by subtraction`;
      } else {
        td.textContent = fmt(v);
      }
    });
  });
}

// Horizontal bars, one per group (the total row last); a suppressed group gets a hatched
// marker and the word instead of a bar.  By hour: a line over 00..23.
function drawChart(rep) {
  const spec = CHART[rep.kind];
  const col = rep.columns.indexOf(spec.col);
  const box = $('chart');
  box.textContent = '';
  $('chart-title').textContent = `${spec.label}, by ${rep.by}`;
  const groups = rep.rows.map((r, i) => ({
    label: r[0], value: r[col], suppressed: rep.suppressed[i][col], total: r[0] === '(all)',
  }));
  const values = groups.filter((g) => !g.suppressed && typeof g.value === 'number').map((g) => g.value);
  const max = Math.max(spec.ref || 0, ...values, 1e-9);
  const svg = el('svg', { role: 'img', 'data-testid': 'report-chart',
    'aria-label': `${spec.label} by ${rep.by}` });
  const defs = el('defs');
  const pat = el('pattern', { id: 'hatch', width: 6, height: 6, patternUnits: 'userSpaceOnUse',
    patternTransform: 'rotate(45)' });
  pat.appendChild(el('rect', { width: 6, height: 6, fill: 'none' }));
  pat.appendChild(el('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#a3b0c5', 'stroke-width': 2 }));
  defs.appendChild(pat);
  svg.appendChild(defs);

  if (rep.by === 'hour') {
    const W = 720, H = 260, L = 50, B = 30, T = 10;
    svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
    svg.appendChild(el('line', { class: 'axis', x1: L, y1: H - B, x2: W - 10, y2: H - B }));
    const hours = groups.filter((g) => !g.total);
    const x = (h) => L + (Number(h) / 23) * (W - L - 20);
    const y = (v) => H - B - (v / max) * (H - B - T);
    let d = '';
    for (const g of hours) {
      if (g.suppressed || typeof g.value !== 'number') {
        svg.appendChild(el('rect', { class: 'supp-mark', x: x(g.label) - 4, y: H - B - 14,
          width: 8, height: 14, 'data-suppressed': 'true', 'data-group': g.label }));
        continue;
      }
      d += `${d ? 'L' : 'M'}${x(g.label)},${y(g.value)}`;
      svg.appendChild(el('circle', { class: 'dot', cx: x(g.label), cy: y(g.value), r: 3,
        'data-testid': 'point', 'data-group': g.label }));
    }
    if (d) svg.appendChild(el('path', { class: 'line', d, 'data-testid': 'line' }));
    for (let h = 0; h < 24; h += 3) svg.appendChild(el('text', { x: x(h) - 6, y: H - 10 }, String(h).padStart(2, '0')));
    svg.appendChild(el('text', { x: 0, y: T + 10 }, fmt(max)));
    box.appendChild(svg);
    return;
  }

  const rowH = 26, L = 170, W = 720, T = 6;
  const H = T + groups.length * rowH + 10;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const scale = (v) => (v / max) * (W - L - 80);
  groups.forEach((g, i) => {
    const y0 = T + i * rowH;
    svg.appendChild(el('text', { x: 4, y: y0 + 17 }, g.label));
    if (g.suppressed) {
      svg.appendChild(el('rect', { class: 'supp-mark', x: L, y: y0 + 4, width: 60, height: rowH - 8,
        'data-suppressed': 'true', 'data-group': g.label }));
      svg.appendChild(el('text', { x: L + 68, y: y0 + 17, class: 'supp-label' }, 'suppressed'));
    } else if (typeof g.value === 'number') {
      svg.appendChild(el('rect', { class: 'bar', x: L, y: y0 + 4, width: Math.max(1, scale(g.value)),
        height: rowH - 8, 'data-testid': 'bar', 'data-group': g.label, 'data-value': g.value }));
      svg.appendChild(el('text', { x: L + Math.max(1, scale(g.value)) + 6, y: y0 + 17 }, fmt(g.value)));
    } else {
      svg.appendChild(el('text', { x: L + 4, y: y0 + 17 }, 'no value'));
    }
  });
  if (spec.ref) {
    const x = L + scale(spec.ref);
    svg.appendChild(el('line', { class: 'ref', x1: x, y1: 0, x2: x, y2: H }));
  }
  box.appendChild(svg);
}

async function show() {
  const url = query();
  $('csv').href = `${url}&format=csv`;
  $('csv').setAttribute('download', `${$('kind').value}-${$('by').value}-${$('from').value}-${$('to').value}.csv`);
  history.replaceState(null, '', `/reports?kind=${$('kind').value}&${url.split('?')[1]}`);
  const status = $('status');
  status.className = 'status';
  status.textContent = 'Loading…';
  try {
    const res = await fetch(url, { cache: 'no-store' });
    const body = await res.json();
    if (!res.ok) {
      status.className = 'status error';
      status.textContent = body.error || `error ${res.status}`;
      return;
    }
    $('min-cell').textContent = body.min_cell;
    drawTable(body);
    drawChart(body);
    const n = body.suppressed.filter((r) => r.some(Boolean)).length;
    status.textContent = `${body.kind} by ${body.by}, ${body.from} to ${body.to}` +
      (n ? ` — ${n} group${n > 1 ? 's' : ''} suppressed` : '');
    document.body.dataset.loaded = 'true';
  } catch (e) {
    status.className = 'status error';
    status.textContent = `The server did not answer (${e.message}).`;
  }
}

function init() {
  const q = new URLSearchParams(location.search);
  const today = new Date();
  const weekAgo = new Date(today.getTime() - 6 * 86400000);
  $('kind').value = CHART[q.get('kind')] ? q.get('kind') : 'response';
  $('from').value = q.get('from') || isoDay(weekAgo);
  $('to').value = q.get('to') || isoDay(today);
  fillBy($('kind').value, q.get('by'));
  $('kind').addEventListener('change', () => fillBy($('kind').value, $('by').value));
  $('controls').addEventListener('submit', (ev) => { ev.preventDefault(); show(); });
  show();
}

init();
