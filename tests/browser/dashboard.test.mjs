// Browser test of the codispatchd dashboard, as command staff would use it: Debian's chromium
// (driven by playwright-core, which downloads no browser of its own) opens the page served by a
// real codispatchd on an embedded PostgreSQL; the codispatch CLI changes things and the page
// must follow them live, show when it is not live, and resync when the server comes back.
//
//   CODISPATCH_BIN_DIR    where codispatchd and codispatch are   (default: <repo>/build/bin)
//   CODISPATCH_BUILD_DIR  where dashboard.png is written         (default: <repo>/build)
//   CODISPATCH_CHROMIUM   the browser                            (default: /usr/bin/chromium)
//
// Every wait is bounded, and the server is stopped however the test ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN_DIR = process.env.CODISPATCH_BIN_DIR || path.join(REPO, 'build', 'bin');
const BUILD_DIR = process.env.CODISPATCH_BUILD_DIR || path.join(REPO, 'build');
const CHROMIUM = process.env.CODISPATCH_CHROMIUM || '/usr/bin/chromium';

const READY_TIMEOUT_MS = 90000;  // sanitizer builds and a first initdb start slowly
const STOP_TIMEOUT_MS = 20000;
const LIVE_TIMEOUT_MS = 2000;    // "sees it appear within 2 s"
const RESYNC_TIMEOUT_MS = 12000; // backoff is capped at 5 s; allow one failed try on top

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A port nobody listens on right now (the kernel picks; we release it for the server).
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function isAlive(pid) {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

// A stale pid file could name a pid reused by another program: only a postgres counts.
function isPostgres(pid) {
  try { return /postgres|postmaster/.test(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')); } catch { return false; }
}

// One codispatchd on fixed ports and a data dir, so it can be stopped and started again
// exactly where it was.
class Server {
  constructor(dir, ports) {
    this.dir = dir;
    this.control = `tcp://127.0.0.1:${ports[0]}`;
    this.units = `tcp://127.0.0.1:${ports[1]}`;
    this.stream = `tcp://127.0.0.1:${ports[2]}`;
    this.http = `127.0.0.1:${ports[3]}`;
    this.base = `http://${this.http}`;
    this.log = path.join(dir, 'server.log');
    this.child = null;
    this.exited = null;  // resolves with the exit status when the current child ends
  }

  start() {
    const fd = fs.openSync(this.log, 'a');
    const child = spawn(path.join(BIN_DIR, 'codispatchd'), [
      '--data-dir', this.dir, '--control', this.control, '--units', this.units,
      '--stream', this.stream, '--http', this.http,
    ], { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    this.child = child;
    this.exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve(sig || code)));
    child.on('error', () => {});  // reported through `exited` and the readiness wait
  }

  running() { return this.child != null && this.child.exitCode == null && this.child.signalCode == null; }

  async waitReady() {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (!this.running()) throw new Error(`codispatchd exited at start:\n${this.logTail()}`);
      try {
        const r = await fetch(`${this.base}/readyz`, { signal: AbortSignal.timeout(2000) });
        if (r.status === 200) return;
      } catch { /* not listening yet */ }
      await sleep(100);
    }
    throw new Error(`codispatchd not ready within ${READY_TIMEOUT_MS} ms:\n${this.logTail()}`);
  }

  // SIGTERM, and SIGKILL if it has not gone within STOP_TIMEOUT_MS.  Returns how it ended.
  async stop() {
    if (!this.running()) return this.child ? this.exited : null;
    this.child.kill('SIGTERM');
    let timer;
    const how = await Promise.race([this.exited,
      new Promise((r) => { timer = setTimeout(() => r('timeout'), STOP_TIMEOUT_MS); })]);
    clearTimeout(timer);  // a pending timer would keep the test process alive
    if (how !== 'timeout') return how;
    this.child.kill('SIGKILL');
    await this.exited;
    return 'SIGKILL';
  }

  // A server that was killed leaves its embedded PostgreSQL running: stop that one postmaster
  // (ours, by the pid file in our own data dir) so the test leaves no process behind.
  async stopOrphanedPostgres() {
    let pid;
    try { pid = Number(fs.readFileSync(path.join(this.dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]); } catch { return; }
    if (!pid || !isAlive(pid) || !isPostgres(pid)) return;
    process.kill(pid, 'SIGINT');  // PostgreSQL's "fast" shutdown
    for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(100);
    if (isAlive(pid)) process.kill(pid, 'SIGQUIT');
  }

  logTail(lines = 60) {
    try { return fs.readFileSync(this.log, 'utf8').split('\n').slice(-lines).join('\n'); } catch { return '(no server log)'; }
  }
}

// Runs the codispatch CLI against the server; resolves with its trimmed stdout.
function cli(server, ...args) {
  return new Promise((resolve, reject) => {
    execFile(path.join(BIN_DIR, 'codispatch'), ['--server', server.control, ...args],
      { timeout: 15000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`codispatch ${args.join(' ')}: ${err.message}\n${stderr}`));
        else resolve(stdout.trim());
      });
  });
}

test('the dashboard follows a live codispatchd, shows when it is not live, and resyncs', { timeout: 300000 }, async (t) => {
  for (const f of ['codispatchd', 'codispatch']) {
    assert.ok(fs.existsSync(path.join(BIN_DIR, f)), `${f} not found in ${BIN_DIR} (build first)`);
  }
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} not found (apt-get install chromium)`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdbrowser-'));
  fs.chmodSync(dir, 0o755);  // the PostgreSQL account must reach the cluster inside
  const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
  const server = new Server(dir, ports);
  let browser = null;
  const pageErrors = [];

  // If the runner itself is interrupted, do not leave a server behind.
  const onSignal = (sig) => { if (server.running()) server.child.kill('SIGKILL'); process.exit(sig === 'SIGINT' ? 130 : 143); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    server.start();
    await server.waitReady();

    // The JSON the page is built on: a snapshot with the four lists.
    const snap = await (await fetch(`${server.base}/api/snapshot`, { signal: AbortSignal.timeout(5000) })).json();
    assert.equal(snap.type, 'snapshot');
    for (const k of ['units', 'calls', 'alerts', 'plans']) assert.ok(Array.isArray(snap[k]), `snapshot.${k} is a list`);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: 30000,
      // Root cannot use chromium's sandbox; the page under test is our own.  Small /dev/shm
      // in containers makes chromium crash without the second flag.
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    });
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.setDefaultTimeout(10000);
    page.on('pageerror', (e) => pageErrors.push(String(e)));

    await page.goto(`${server.base}/`, { timeout: 15000 });
    await page.locator('#conn-banner').waitFor({ state: 'hidden', timeout: 10000 });

    // A new call shows up on the open board and in the pending queue, live.
    const callId = await cli(server, 'call', 'create', '--type', 'mental_health', '--priority', '3',
      '--lat', '34.05', '--lon', '-118.25', '--language', 'es', '--summary', 'browser test');
    assert.match(callId, /^C-\d+$/);
    const callRow = page.locator(`[data-testid="call-${callId}"]`);
    await callRow.waitFor({ state: 'visible', timeout: LIVE_TIMEOUT_MS });
    await page.locator(`[data-testid="pending-${callId}"]`).waitFor({ state: 'visible', timeout: LIVE_TIMEOUT_MS });
    assert.equal(await callRow.getAttribute('data-status'), 'pending');

    // A unit joins the board; dispatching offers it the call, and both change live.
    await cli(server, 'unit', 'add', '--id', 'B1', '--type', 'mh_team', '--languages', 'es,en',
      '--lat', '34.06', '--lon', '-118.25', '--status', 'available');
    await page.locator('[data-testid="unit-B1"][data-status="available"]').waitFor({ timeout: LIVE_TIMEOUT_MS });
    await cli(server, 'dispatch', callId);
    await page.locator('[data-testid="unit-B1"][data-status="assigned"]').waitFor({ timeout: LIVE_TIMEOUT_MS });
    await page.locator(`[data-testid="call-${callId}"][data-status="dispatched"]`).waitFor({ timeout: LIVE_TIMEOUT_MS });
    await page.locator(`[data-testid="asg-${callId}-B1"]`).waitFor({ timeout: LIVE_TIMEOUT_MS });
    await page.locator(`[data-testid="pending-${callId}"]`).waitFor({ state: 'detached', timeout: LIVE_TIMEOUT_MS });
    await page.locator(`[data-testid="plot-call-${callId}"]`).waitFor({ state: 'attached', timeout: LIVE_TIMEOUT_MS });
    await page.locator('[data-testid="plot-unit-B1"]').waitFor({ state: 'attached', timeout: LIVE_TIMEOUT_MS });

    // The server goes away: the page must say at once that it is not live.
    const how = await server.stop();
    assert.ok(how === 0 || how === 'SIGTERM', `codispatchd stopped cleanly on SIGTERM (got ${how})`);
    const banner = page.locator('#conn-banner');
    await banner.waitFor({ state: 'visible', timeout: 5000 });
    const text = await banner.textContent();
    assert.match(text, /Disconnected — board is not live, last update \d\d:\d\d:\d\d/);
    assert.equal(await page.locator('body').getAttribute('data-conn'), 'disconnected');

    // Back on the same ports and data: the page reconnects by itself and shows what is
    // durable (the call and its unit), from the fresh snapshot.
    server.start();
    await server.waitReady();
    await banner.waitFor({ state: 'hidden', timeout: RESYNC_TIMEOUT_MS });
    assert.equal(await page.locator('body').getAttribute('data-conn'), 'live');
    await callRow.waitFor({ state: 'visible', timeout: LIVE_TIMEOUT_MS });
    await page.locator('[data-testid="unit-B1"]').waitFor({ state: 'visible', timeout: LIVE_TIMEOUT_MS });

    // Let one tick refresh the timers, then keep a picture for people to look at.
    await sleep(1100);
    fs.mkdirSync(BUILD_DIR, { recursive: true });
    const shot = path.join(BUILD_DIR, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true, timeout: 15000 });
    t.diagnostic(`screenshot: ${shot}`);

    // The reports page after a small day of calls: by call type, substance (3 calls) and
    // other (9) are small cells and must be marked suppressed, never drawn; the others are
    // drawn as bars.  (test_reports checks the figures themselves.)
    const mix = [['mental_health', '3', 13], ['welfare_check', '4', 13], ['substance', '3', 3], ['other', '4', 9]];
    for (const [type, prio, n] of mix) {
      for (let i = 0; i < n; i++) {
        await cli(server, 'call', 'create', '--type', type, '--priority', prio,
          '--lat', '34.05', '--lon', '-118.25', '--area', 'SPA 4');
      }
    }
    const from = new Date(Date.now() - 86400000).toISOString().slice(0, 10);
    const to = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
    await page.goto(`${server.base}/reports?kind=diversion&from=${from}&to=${to}&by=type`, { timeout: 15000 });
    await page.locator('body[data-loaded="true"]').waitFor({ timeout: 10000 });
    const chart = page.locator('[data-testid="report-chart"]');
    await chart.waitFor({ state: 'visible' });
    const bars = chart.locator('[data-testid="bar"]');
    assert.deepEqual(await bars.evaluateAll((els) => els.map((e) => e.dataset.group)),
      ['mental_health', 'welfare_check', '(all)']);
    const marks = chart.locator('[data-suppressed="true"]');
    assert.deepEqual((await marks.evaluateAll((els) => els.map((e) => e.dataset.group))).sort(), ['other', 'substance']);
    for (const g of ['other', 'substance']) {
      const cells = page.locator(`#table tr[data-group="${g}"] td[data-suppressed="true"]`);
      assert.ok(await cells.count() > 0, `${g} row marked suppressed`);
      assert.equal(await cells.first().textContent(), 'suppressed');
    }
    assert.equal(await page.locator('#table tr[data-group="mental_health"] td[data-suppressed]').count(), 0);
    assert.match(await page.locator('[data-testid="status"]').textContent(), /2 groups suppressed/);
    const csvHref = await page.locator('[data-testid="csv"]').getAttribute('href');
    assert.match(csvHref, /format=csv/);
    const csv = await (await fetch(`${server.base}${csvHref}`, { signal: AbortSignal.timeout(5000) })).text();
    assert.match(csv, /^grp,calls,no_police/);
    assert.match(csv, /\nsubstance,suppressed,/);
    // A refused range is said in words on the page (the server's 400 names the parameter).
    await page.goto(`${server.base}/reports?kind=equity&from=${to}&to=${from}`, { timeout: 15000 });
    await page.locator('[data-testid="status"].error').waitFor({ timeout: 10000 });
    assert.match(await page.locator('[data-testid="status"]').textContent(), /to must be after from/);
    const shotR = path.join(BUILD_DIR, 'reports.png');
    await page.goto(`${server.base}/reports?kind=diversion&from=${from}&to=${to}&by=type`, { timeout: 15000 });
    await page.locator('body[data-loaded="true"]').waitFor({ timeout: 10000 });
    await page.screenshot({ path: shotR, fullPage: true, timeout: 15000 });
    t.diagnostic(`screenshot: ${shotR}`);

    assert.deepEqual(pageErrors, [], 'no script error on the page');
  } catch (e) {
    console.error(`--- codispatchd log (tail) ---\n${server.logTail()}`);
    throw e;
  } finally {
    if (browser) await browser.close().catch(() => {});
    await server.stop();
    await server.stopOrphanedPostgres();  // nothing to do when the server shut down cleanly
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
