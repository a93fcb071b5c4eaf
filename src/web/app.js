// codispatch command board.  Plain JS, no framework and nothing fetched from outside: the
// page must work on a dispatch floor whose only reachable host is codispatchd itself.
//
// Data flow: the WebSocket /ws sends a full snapshot first, then one "change" message per
// committed change carrying the full current record of the entity it names.  We keep four maps
// (units, calls, alerts, plans) and redraw from them; nothing is computed incrementally, so a
// missed subtlety in one change can never leave the board permanently wrong — the next snapshot
// (sent on every reconnect) replaces everything.
'use strict';

(function () {
  const RECONNECT_MIN_MS = 250;
  const RECONNECT_MAX_MS = 5000;    // the brief: back off, but never wait more than 5 s
  const SYNC_TIMEOUT_MS = 10000;    // a connection that has not sent its snapshot by then is dead
  const PROBE_EVERY_MS = 10000;     // see probe(): catches half-open connections
  const PROBE_TIMEOUT_MS = 4000;

  const UNIT_TYPE_ORDER = ['mh_team', 'therapeutic_van', 'apru', 'sober', 'smart',
    'rescue_ambulance', 'fire_engine', 'patrol'];
  const UNIT_TYPE_LABEL = {
    mh_team: 'Mental-health team', therapeutic_van: 'Therapeutic van', apru: 'APRU',
    sober: 'SOBER', smart: 'SMART', rescue_ambulance: 'Rescue ambulance',
    fire_engine: 'Fire engine', patrol: 'Patrol',
  };
  const POLICE_TYPES = new Set(['patrol', 'smart']);
  const ALERT_LABEL = {
    ack_timeout: 'Not acknowledged', declined: 'Declined', pending_too_long: 'Waiting too long',
    on_scene_too_long: 'On scene too long', no_eligible_unit: 'No eligible unit',
  };
  // Units not on duty: dimmed on the board, and a tablet that is off is expected.
  const OFF_STATUSES = new Set(['off_duty', 'out_of_service']);

  const state = {
    synced: false,          // a snapshot has been applied on the current connection
    seq: 0,
    clockOffsetMs: 0,       // server clock minus ours, from the last snapshot's now_ms
    lastUpdateMs: null,     // our wall clock when the board was last known current (banner)
    units: new Map(), calls: new Map(), alerts: new Map(), plans: new Map(),
  };

  // ---- small helpers -------------------------------------------------------------------

  // Server-corrected "now": ages must not depend on how wrong the console's clock is.
  function now() { return Date.now() + state.clockOffsetMs; }

  // Builds an element; text always goes in as text nodes, never as HTML, because call
  // summaries and unit names are free text typed by people.
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    for (const k of kids.flat()) if (k != null && k !== false) e.append(k);
    return e;
  }
  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    setAttrs(e, attrs);
    for (const k of kids.flat()) if (k != null && k !== false) e.append(k);
    return e;
  }
  function setAttrs(e, attrs) {
    if (!attrs) return;
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k === 'class') e.setAttribute('class', v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  const $ = (id) => document.getElementById(id);
  const words = (s) => String(s || '').replace(/_/g, ' ');
  const pad2 = (n) => String(n).padStart(2, '0');
  const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

  // "4m05s" below an hour, "1h02m" below a day, "2d03h" beyond: same shape as the CLI.
  function fmtAge(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 3600) return `${Math.floor(s / 60)}m${pad2(s % 60)}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h${pad2(Math.floor(s / 60) % 60)}m`;
    return `${Math.floor(s / 86400)}d${pad2(Math.floor(s / 3600) % 24)}h`;
  }
  function fmtClock(ms) {
    const d = new Date(ms);
    return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }
  function fmtLimit(s) {  // a plan's clock: "30s", "10m", "1m30s"
    if (s < 60) return `${s}s`;
    return s % 60 === 0 ? `${s / 60}m` : fmtAge(s * 1000);
  }
  // "today" is the console's local day, on the server-corrected clock.
  function startOfToday() {
    const d = new Date(now());
    d.setHours(0, 0, 0, 0);
    return d.getTime();
  }
  // BCP 47 primary subtag: "es-MX" and "es" match; "zh-Hant" and "zh-Hans" match too.
  function primaryLang(tag) { return String(tag || '').toLowerCase().split(/[-_]/)[0]; }

  function isOpen(c) { return c.status !== 'closed' && c.status !== 'cancelled'; }
  function activeAssignments(c) { return (c.assignments || []).filter((a) => a.ended_ms == null); }
  function typeLabel(t) { return UNIT_TYPE_LABEL[t] || words(t); }

  // The plan's pending-alert clock for this call: plan key = call type, else "other".
  function pendingLimitMs(c) {
    const plan = state.plans.get(c.type) || state.plans.get('other');
    const arr = plan && plan.pending_alert_s;
    const s = Array.isArray(arr) ? arr[(c.priority || 4) - 1] : null;
    return isNum(s) && s > 0 ? s * 1000 : null;
  }
  // ok below 50% of the limit, warn from 50%, over from 100%.
  function timerLevel(ageMs, limitMs) {
    if (!limitMs) return 'ok';
    if (ageMs >= limitMs) return 'over';
    return ageMs >= limitMs / 2 ? 'warn' : 'ok';
  }
  function levelText(level, limitMs) {
    if (!limitMs) return '';
    if (level === 'over') return `OVER ${fmtLimit(limitMs / 1000)} limit`;
    if (level === 'warn') return `past half of ${fmtLimit(limitMs / 1000)}`;
    return `limit ${fmtLimit(limitMs / 1000)}`;
  }

  // ---- protocol ------------------------------------------------------------------------

  function applySnapshot(m) {
    state.units = new Map((m.units || []).filter((u) => u.status !== 'removed').map((u) => [u.unit_id, u]));
    state.calls = new Map((m.calls || []).map((c) => [c.call_id, c]));
    state.alerts = new Map((m.alerts || []).map((a) => [a.alert_no, a]));
    state.plans = new Map((m.plans || []).map((p) => [p.key, p]));
    state.seq = m.seq || 0;
    if (isNum(m.now_ms)) state.clockOffsetMs = m.now_ms - Date.now();
    state.synced = true;
  }

  // Each change carries full records, so applying one is a plain replace of what it names.
  function applyChange(m) {
    // A unit taken off the roster comes as its last record with status "removed".
    if (m.unit) {
      if (m.unit.status === 'removed') state.units.delete(m.unit.unit_id);
      else state.units.set(m.unit.unit_id, m.unit);
    }
    if (m.call) state.calls.set(m.call.call_id, m.call);  // closed ones stay for today's figures
    if (m.alert) state.alerts.set(m.alert.alert_no, m.alert);
    if (m.alert_cleared != null) state.alerts.delete(m.alert_cleared);
    if (m.plan) state.plans.set(m.plan.key, m.plan);
    state.seq = m.seq;
  }

  function onMessage(text) {
    let m;
    try { m = JSON.parse(text); } catch (e) { console.warn('codispatch: bad message', e); return; }
    if (m.type === 'snapshot') {
      applySnapshot(m);
      markLive();
    } else if (m.type === 'change') {
      // Before this connection's snapshot we have nothing to apply a change to; at or below
      // the snapshot's seq the change is already in it.
      if (!state.synced || !isNum(m.seq) || m.seq <= state.seq) return;
      applyChange(m);
    } else {
      return;
    }
    state.lastUpdateMs = Date.now();
    scheduleRender();
  }

  // ---- connection ----------------------------------------------------------------------

  let ws = null;
  let attempt = 0;
  let reconnectAt = null;
  let reconnectTimer = null;

  function connect() {
    reconnectTimer = null;
    reconnectAt = null;
    state.synced = false;
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
    let sock;
    try { sock = new WebSocket(url); } catch (e) { scheduleReconnect(); return; }
    ws = sock;
    // Events from a socket we have already given up on must not touch the board.
    sock.onmessage = (ev) => { if (sock === ws) onMessage(ev.data); };
    sock.onclose = () => { if (sock === ws) dropConnection(); };
    sock.onerror = () => {};  // a close event always follows
    setTimeout(() => { if (sock === ws && !state.synced) dropConnection(); }, SYNC_TIMEOUT_MS);
  }

  // Forget the socket at once (a half-open one may take minutes to report its close), show
  // the board as not live, and try again.
  function dropConnection() {
    const sock = ws;
    ws = null;
    // A live connection with no news means nothing changed: the board was right until now.
    if (state.synced) state.lastUpdateMs = Date.now();
    state.synced = false;
    if (sock) { try { sock.close(); } catch (e) { /* already closing */ } }
    markDisconnected();
    scheduleReconnect();
  }

  // Exponential backoff with jitter, so a room full of screens does not reconnect in step.
  function scheduleReconnect() {
    if (reconnectTimer) return;
    const base = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** attempt);
    attempt += 1;
    const delay = Math.round(base / 2 + Math.random() * base / 2);
    reconnectAt = Date.now() + delay;
    reconnectTimer = setTimeout(connect, delay);
    renderBanner();
  }

  // A WebSocket over a dead network path can stay "open" for minutes.  A cheap request on a
  // fresh connection tells us quickly that the server cannot be reached; then we resync.
  async function probe() {
    if (!ws || !state.synced) return;
    const sock = ws;
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), PROBE_TIMEOUT_MS);
    try {
      await fetch('/healthz', { cache: 'no-store', signal: ctl.signal });
    } catch (e) {
      if (sock === ws) dropConnection();
    } finally {
      clearTimeout(t);
    }
  }

  function markLive() {
    attempt = 0;
    document.body.dataset.conn = 'live';
    renderBanner();
  }
  function markDisconnected() {
    document.body.dataset.conn = state.lastUpdateMs == null ? 'connecting' : 'disconnected';
    renderBanner();
  }

  function renderBanner() {
    const banner = $('conn-banner');
    const pill = $('conn-state');
    const conn = document.body.dataset.conn;
    banner.hidden = conn === 'live';
    pill.dataset.state = conn;
    if (conn === 'live') { pill.textContent = 'Live'; return; }
    const retry = reconnectAt == null ? 'reconnecting…'
      : `reconnecting in ${Math.max(0, Math.ceil((reconnectAt - Date.now()) / 1000))} s`;
    if (conn === 'connecting') {
      banner.textContent = `Connecting — board is not live yet (${retry})`;
      pill.textContent = 'Connecting';
    } else {
      banner.textContent = 'Disconnected — board is not live, last update ' +
        `${fmtClock(state.lastUpdateMs)} (${retry})`;
      pill.textContent = 'NOT LIVE';
    }
  }

  // ---- rendering -----------------------------------------------------------------------

  let renderQueued = false;
  // Bursts of changes (a dispatch touches a call, a unit and an alert) redraw once.
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => { renderQueued = false; render(); });
  }

  function render() {
    pruneOldCalls();
    renderHeadline();
    renderPending();
    renderOpenCalls();
    renderAlerts();
    renderUnits();
    renderPlot();
    $('seq').textContent = `seq ${state.seq}`;
    tick();
  }

  // Closed calls are kept only while they count in today's figures.
  function pruneOldCalls() {
    const t0 = startOfToday();
    for (const [id, c] of state.calls) if (!isOpen(c) && !(c.created_ms >= t0)) state.calls.delete(id);
  }

  function openCallsSorted() {
    return [...state.calls.values()].filter(isOpen)
      .sort((a, b) => (a.priority - b.priority) || (a.created_ms - b.created_ms));
  }

  function priorityBadge(p) {
    return h('span', { class: `prio p${p}`, title: `priority ${p} (1 is highest)` }, `P${p}`);
  }
  function statusPill(status) {
    return h('span', { class: `pill st-${status}` }, words(status));
  }
  function ageSpan(sinceMs, cls) {
    return h('span', { class: cls || 'age', 'data-since': sinceMs }, fmtAge(now() - sinceMs));
  }
  function callFacts(c) {
    const facts = [];
    if (c.address) facts.push(h('span', { class: 'fact' }, c.address));
    if (c.area) facts.push(h('span', { class: 'fact' }, c.area));
    if (c.language) facts.push(h('span', { class: 'lang', title: 'caller language' }, c.language));
    for (const f of c.risk_flags || []) facts.push(h('span', { class: 'flag' }, `⚠ ${words(f)}`));
    return facts;
  }

  function renderPending() {
    const rows = [...state.calls.values()].filter((c) => c.status === 'pending')
      .sort((a, b) => (a.priority - b.priority) || (a.pending_since_ms - b.pending_since_ms));
    $('pending-queue').replaceChildren(...rows.map((c) => {
      const limit = pendingLimitMs(c);
      const level = timerLevel(now() - c.pending_since_ms, limit);
      return h('li', {
        class: `row pending level-${level}`, 'data-testid': `pending-${c.call_id}`,
        'data-level': level, 'data-since': c.pending_since_ms, 'data-limit': limit,
      },
      h('div', { class: 'row-main' }, priorityBadge(c.priority),
        h('span', { class: 'cid' }, c.call_id), h('span', { class: 'ctype' }, words(c.type)),
        h('span', { class: 'timer' }, ageSpan(c.pending_since_ms, 'age timer-age'),
          h('span', { class: 'level-text' }, levelText(level, limit)))),
      h('div', { class: 'row-sub' }, callFacts(c)),
      c.summary ? h('div', { class: 'summary' }, c.summary) : null);
    }));
    $('pending-count').textContent = rows.length;
    $('pending-empty').hidden = rows.length > 0;
  }

  function renderOpenCalls() {
    const rows = openCallsSorted();
    $('open-calls').replaceChildren(...rows.map((c) => {
      const active = activeAssignments(c);
      const ended = (c.assignments || []).length - active.length;
      return h('li', {
        class: `row call st-row-${c.status}`, 'data-testid': `call-${c.call_id}`,
        'data-status': c.status,
      },
      h('div', { class: 'row-main' }, priorityBadge(c.priority),
        h('span', { class: 'cid' }, c.call_id), h('span', { class: 'ctype' }, words(c.type)),
        statusPill(c.status),
        h('span', { class: 'nowrap muted' }, 'open ', ageSpan(c.created_ms))),
      h('div', { class: 'row-sub' }, callFacts(c)),
      c.summary ? h('div', { class: 'summary' }, c.summary) : null,
      h('div', { class: 'assignments' },
        active.length ? active.map((a) => h('span', {
          class: `asg st-${a.status}`, 'data-testid': `asg-${c.call_id}-${a.unit_id}`,
          'data-status': a.status, title: typeLabel(a.unit_type),
        }, `${a.unit_id} · ${words(a.status)}`)) : h('span', { class: 'muted' }, 'no unit'),
        ended ? h('span', { class: 'muted' }, ` (+${ended} ended)`) : null));
    }));
    $('calls-count').textContent = rows.length;
    $('calls-empty').hidden = rows.length > 0;
  }

  function renderAlerts() {
    const rows = [...state.alerts.values()].sort((a, b) => b.raised_ms - a.raised_ms);
    $('alerts').replaceChildren(...rows.map((a) => h('li', {
      class: `row alert alert-${a.kind}`, 'data-testid': `alert-${a.alert_no}`, 'data-kind': a.kind,
    },
    h('div', { class: 'row-main' },
      h('span', { class: 'alert-kind' }, ALERT_LABEL[a.kind] || words(a.kind)),
      a.call_id ? h('span', { class: 'cid' }, a.call_id) : null,
      a.unit_id ? h('span', { class: 'uid' }, a.unit_id) : null,
      ageSpan(a.raised_ms)),
    a.message ? h('div', { class: 'summary' }, a.message) : null)));
    $('alerts-count').textContent = rows.length;
    $('alerts-empty').hidden = rows.length > 0;
  }

  function unitTypesInOrder() {
    const types = new Set([...state.units.values()].map((u) => u.type));
    const known = UNIT_TYPE_ORDER.filter((t) => types.has(t));
    const rest = [...types].filter((t) => !UNIT_TYPE_ORDER.includes(t)).sort();
    return known.concat(rest);
  }

  function renderUnits() {
    const byType = new Map();
    for (const u of state.units.values()) {
      if (!byType.has(u.type)) byType.set(u.type, []);
      byType.get(u.type).push(u);
    }
    const groups = unitTypesInOrder().map((t) => {
      const units = byType.get(t).sort((a, b) => a.unit_id.localeCompare(b.unit_id));
      const avail = units.filter((u) => u.status === 'available').length;
      return h('section', { class: 'unit-group', 'data-testid': `unit-group-${t}` },
        h('h3', null, typeLabel(t), h('span', { class: 'muted' }, ` ${avail} available of ${units.length}`)),
        h('ul', { class: 'units' }, units.map(unitCard)));
    });
    $('unit-board').replaceChildren(...groups);
    $('units-count').textContent = state.units.size;
    $('units-empty').hidden = state.units.size > 0;
  }

  function unitCard(u) {
    // Connection problems matter only for units that should be reachable (on duty).
    const onDuty = !OFF_STATUSES.has(u.status);
    const conn = [];
    if (!u.reachable) conn.push(h('span', { class: 'conn conn-bad' }, '✖ UNREACHABLE'));
    else if (!u.tablet_connected) {
      conn.push(h('span', { class: onDuty ? 'conn conn-warn' : 'conn conn-off' }, 'tablet disconnected'));
    }
    return h('li', {
      class: `unit st-${u.status}${u.reachable ? '' : ' unreachable'}${onDuty ? '' : ' off'}`,
      'data-testid': `unit-${u.unit_id}`, 'data-status': u.status,
      'data-reachable': String(!!u.reachable), 'data-tablet': String(!!u.tablet_connected),
    },
    h('div', { class: 'row-main' },
      h('span', { class: 'uid' }, u.unit_id),
      u.name && u.name !== u.unit_id ? h('span', { class: 'uname', title: u.name }, u.name) : null),
    h('div', { class: 'row-main' }, statusPill(u.status), ageSpan(u.status_ms),
      u.call_id ? h('span', { class: 'cid' }, `→ ${u.call_id}`) : null),
    h('div', { class: 'row-sub' },
      (u.languages || []).map((l) => h('span', { class: 'lang' }, l)),
      u.area ? h('span', { class: 'fact' }, u.area) : null, conn));
  }

  // ---- headline figures ----------------------------------------------------------------

  function percentile(sorted, p) {  // nearest rank
    return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
  }

  function renderHeadline() {
    const t0 = startOfToday();
    const calls = [...state.calls.values()];
    const open = calls.filter(isOpen);
    $('fig-open').textContent = open.length;
    $('fig-open-note').textContent = `${open.filter((c) => c.status === 'pending').length} pending`;

    const avail = new Map();
    for (const t of unitTypesInOrder()) avail.set(t, [0, 0]);
    for (const u of state.units.values()) {
      const a = avail.get(u.type);
      if (u.status === 'available') a[0] += 1;
      if (!OFF_STATUSES.has(u.status)) a[1] += 1;
    }
    $('fig-available').replaceChildren(...[...avail].map(([t, [n, duty]]) =>
      h('span', { class: `avail${n ? '' : ' avail-none'}`, 'data-testid': `avail-${t}` },
        h('b', null, String(n)), h('span', { class: 'muted' }, `/${duty}`), ` ${typeLabel(t)}`)));

    const today = calls.filter((c) => c.created_ms >= t0);
    const firstOnScene = (c) => {
      const ts = (c.assignments || []).map((a) => a.on_scene_ms).filter(isNum);
      return ts.length ? Math.min(...ts) : null;
    };
    const resp = today.map((c) => [c, firstOnScene(c)]).filter(([, t]) => t != null)
      .map(([c, t]) => t - c.created_ms).sort((a, b) => a - b);
    $('fig-response').textContent = resp.length
      ? `${fmtAge(percentile(resp, 0.5))} / ${fmtAge(percentile(resp, 0.9))}` : '–';
    $('fig-response-note').textContent = `${resp.length} of ${plural(today.length, 'call')} reached`;

    const police = today.filter((c) => (c.assignments || []).some((a) => POLICE_TYPES.has(a.unit_type)));
    $('fig-police').textContent = today.length ? `${Math.round(100 * police.length / today.length)}%` : '–';
    $('fig-police-note').textContent = `${police.length} of ${plural(today.length, 'call')}`;

    // Non-English calls a unit reached; matched when a unit that reached it speaks the
    // caller's language (languages from the board, primary subtag only).
    const speaks = (unitId, lang) => {
      const u = state.units.get(unitId);
      return !!u && (u.languages || []).some((l) => primaryLang(l) === lang);
    };
    const foreign = today.filter((c) => {
      const l = primaryLang(c.language);
      return l && l !== 'en' && firstOnScene(c) != null;
    });
    const matched = foreign.filter((c) => (c.assignments || [])
      .some((a) => isNum(a.on_scene_ms) && speaks(a.unit_id, primaryLang(c.language))));
    $('fig-language').textContent = foreign.length
      ? `${Math.round(100 * matched.length / foreign.length)}%` : '–';
    $('fig-language-note').textContent = `${matched.length} of ${plural(foreign.length, 'non-English call')} reached`;
  }

  // ---- plot ----------------------------------------------------------------------------

  const PLOT_W = 1000, PLOT_H = 620, PLOT_M = 40;  // the SVG's viewBox and margin

  // A "nice" grid step (1, 2 or 5 × 10^k degrees) giving about `n` lines over `span`.
  function niceStep(span, n) {
    const raw = span / n;
    const p = 10 ** Math.floor(Math.log10(raw));
    return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
  }

  function renderPlot() {
    const units = [...state.units.values()].filter((u) => isNum(u.lat) && isNum(u.lon));
    const calls = openCallsSorted().filter((c) => isNum(c.lat) && isNum(c.lon));
    const plot = $('plot');
    const pts = units.concat(calls);
    if (!pts.length) {
      plot.replaceChildren(svg('text', { x: PLOT_W / 2, y: PLOT_H / 2, class: 'plot-empty',
        'text-anchor': 'middle' }, 'No position known yet'));
      return;
    }
    // Auto-fit: the bounding box of everything, padded, at least ~1 km across.
    let [s, n, w, e] = [Infinity, -Infinity, Infinity, -Infinity];
    for (const p of pts) { s = Math.min(s, p.lat); n = Math.max(n, p.lat); w = Math.min(w, p.lon); e = Math.max(e, p.lon); }
    const padLat = Math.max((n - s) * 0.08, 0.005), padLon = Math.max((e - w) * 0.08, 0.005);
    s -= padLat; n += padLat; w -= padLon; e += padLon;
    // Equirectangular with a cos(latitude) squeeze, so distances look right at city scale.
    // The box is centred; the roomier axis simply shows a little more around it.
    const k = Math.cos(((s + n) / 2) * Math.PI / 180);
    const scale = Math.min((PLOT_W - 2 * PLOT_M) / ((e - w) * k), (PLOT_H - 2 * PLOT_M) / (n - s));
    const cLon = (w + e) / 2, cLat = (s + n) / 2;
    const X = (lon) => PLOT_W / 2 + (lon - cLon) * k * scale;
    const Y = (lat) => PLOT_H / 2 - (lat - cLat) * scale;
    const west = cLon - PLOT_W / 2 / (k * scale), east = cLon + PLOT_W / 2 / (k * scale);
    const south = cLat - PLOT_H / 2 / scale, north = cLat + PLOT_H / 2 / scale;

    // Graticule at round degrees, a line about every 150 px, so labels never collide.
    const grid = [];
    const stepLat = niceStep(north - south, PLOT_H / 150), stepLon = niceStep(east - west, PLOT_W / 150);
    const digits = (step) => Math.max(0, -Math.floor(Math.log10(step)));
    for (let i = Math.ceil(south / stepLat); i * stepLat <= north; i++) {
      const v = i * stepLat;
      grid.push(svg('line', { class: 'grid', x1: 0, x2: PLOT_W, y1: Y(v), y2: Y(v) }),
        svg('text', { class: 'grid-label', x: 6, y: Y(v) - 5 }, v.toFixed(digits(stepLat))));
    }
    for (let i = Math.ceil(west / stepLon); i * stepLon <= east; i++) {
      const v = i * stepLon;
      grid.push(svg('line', { class: 'grid', x1: X(v), x2: X(v), y1: 0, y2: PLOT_H }),
        X(v) < PLOT_W - 80  // a label cut by the right edge would misread as another number
          ? svg('text', { class: 'grid-label', x: X(v) + 5, y: PLOT_H - 8 }, v.toFixed(digits(stepLon))) : null);
    }

    const links = [];
    for (const c of calls) {
      for (const a of activeAssignments(c)) {
        const u = state.units.get(a.unit_id);
        if (u && isNum(u.lat) && isNum(u.lon)) {
          links.push(svg('line', { class: `link st-${a.status}`, x1: X(c.lon), y1: Y(c.lat), x2: X(u.lon), y2: Y(u.lat) }));
        }
      }
    }
    const unitMarks = units.map((u) => svg('g', {
      class: `pu st-${u.status}${u.reachable ? '' : ' unreachable'}${OFF_STATUSES.has(u.status) ? ' off' : ''}`,
      'data-testid': `plot-unit-${u.unit_id}`, transform: `translate(${X(u.lon).toFixed(1)},${Y(u.lat).toFixed(1)})` },
    svg('title', null, `${u.unit_id} (${typeLabel(u.type)}): ${words(u.status)}${u.reachable ? '' : ', UNREACHABLE'}`),
    svg('rect', { x: -7, y: -7, width: 14, height: 14, rx: 2 }),
    // Only units on a call (or in trouble) are labelled: sixty labels would hide the calls.
    u.call_id || !u.reachable ? svg('text', { x: 10, y: 5 }, u.unit_id) : null));
    const callMarks = calls.map((c) => svg('g', { class: `pc p${c.priority} st-${c.status}`,
      'data-testid': `plot-call-${c.call_id}`, transform: `translate(${X(c.lon).toFixed(1)},${Y(c.lat).toFixed(1)})` },
    svg('title', null, `${c.call_id} P${c.priority} ${words(c.type)}: ${words(c.status)}`),
    svg('circle', { r: 10 }),
    svg('text', { x: 0, y: 5, 'text-anchor': 'middle', class: 'pc-p' }, String(c.priority)),
    svg('text', { x: 13, y: -9 }, c.call_id)));
    plot.replaceChildren(svg('rect', { class: 'plot-bg', x: 0, y: 0, width: PLOT_W, height: PLOT_H }),
      ...grid, ...links, ...unitMarks, ...callMarks);
  }

  // ---- once a second: clocks, ages, pending timers ---------------------------------------

  function tick() {
    const t = now();
    $('clock').textContent = fmtClock(t);
    for (const e of document.querySelectorAll('[data-since]')) {
      if (e.classList.contains('pending')) {
        const limit = Number(e.dataset.limit) || null;
        const level = timerLevel(t - Number(e.dataset.since), limit);
        if (e.dataset.level !== level) {
          e.dataset.level = level;
          e.classList.remove('level-ok', 'level-warn', 'level-over');
          e.classList.add(`level-${level}`);
          e.querySelector('.level-text').textContent = levelText(level, limit);
        }
      } else {
        e.textContent = fmtAge(t - Number(e.dataset.since));
      }
    }
    $('last-update').textContent = state.lastUpdateMs == null ? 'no update yet'
      : `last update ${fmtClock(state.lastUpdateMs)}`;
    if (document.body.dataset.conn !== 'live') renderBanner();
  }

  function start() {
    markDisconnected();
    connect();
    setInterval(tick, 1000);
    setInterval(probe, PROBE_EVERY_MS);
    // Day rollover and pruning need a redraw even on a quiet night.
    setInterval(scheduleRender, 60000);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
