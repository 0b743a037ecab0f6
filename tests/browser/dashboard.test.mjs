// The dashboard (www/) end to end: wrangler dev with this repo's config serves it and the API, the demo receiver
// (www/demo-receiver/server.mjs) verifies the webhook deliveries, the board receives the same events over
// CallEventStream, and Chromium drives the page.
// Screenshots of the key steps go to tests/artifacts/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, launchChromium, repoRoot as root, startWranglerDev } from '../support/local.mjs';
import { waitFor } from '../worker/receivers.mjs';

const artifacts = path.join(root, 'tests', 'artifacts');
const RANK = { scheduled: 0, queued: 1, initiated: 2, ringing: 3, 'in-progress': 4, completed: 5, failed: 5 };

// Each wait asks Chromium or the receiver's output every 100 ms.
const EVERY = 100;

describe('dashboard (wrangler dev + demo receiver + Chromium)', () => {
  let wrangler, receiver, browser, page, base, receiverBase;
  let receiverOutput = '';
  const problems = [];
  let shot = 0;
  const screenshot = (name) => page.screenshot({ path: path.join(artifacts, `dashboard-${String(++shot).padStart(2, '0')}-${name}.png`), fullPage: true });
  const verifiedLines = (callId) => receiverOutput.split('\n').filter((l) => l.startsWith('verified ') && l.includes(` ${callId} `));

  before(async () => {
    assert.ok(readFileSync(path.join(root, 'wrangler.toml'), 'utf8').includes('directory = "www"'), 'wrangler.toml serves www/');
    assert.ok(existsSync(path.join(root, 'www/pkg/index.js')), 'www/pkg/index.js is missing: run make pkg');
    assert.ok(existsSync(path.join(root, 'crates/ringhook-worker/build/index.js')), 'the Worker is not built: run make worker');
    mkdirSync(artifacts, { recursive: true });

    const receiverPort = await freePort();
    receiverBase = `http://127.0.0.1:${receiverPort}`;
    receiver = spawn(process.execPath, [path.join(root, 'www/demo-receiver/server.mjs')],
      { cwd: root, env: { ...process.env, PORT: String(receiverPort) } });
    receiver.stdout.on('data', (d) => { receiverOutput += d; });
    receiver.stderr.on('data', (d) => { receiverOutput += d; });
    receiver.on('exit', (code, signal) => { receiverOutput += `[exited: ${code ?? signal}]\n`; });

    const browserStarted = launchChromium();
    wrangler = await startWranglerDev();
    base = wrangler.base;
    await waitFor(() => {
      assert.equal(receiver.exitCode, null, `the demo receiver exited:\n${receiverOutput}`);
      return receiverOutput.includes(`ringhook demo receiver on ${receiverBase}`);
    }, 15_000, { intervalMs: EVERY, message: () => `the demo receiver's ready line:\n${receiverOutput}` });
    browser = await browserStarted;
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => ['error', 'warning'].includes(msg.type()) && problems.push(`${msg.type()}: ${msg.text()} (${msg.location().url})`));
    page.on('dialog', (dialog) => dialog.accept());
  });

  after(async () => {
    if (wrangler) writeFileSync(path.join(artifacts, 'dashboard-wrangler.log'), wrangler.output());
    writeFileSync(path.join(artifacts, 'dashboard-receiver.log'), receiverOutput);
    await browser?.close().catch(() => {});
    if (receiver && receiver.exitCode === null) receiver.kill('SIGTERM');
    wrangler?.stop();
  });

  it('serves the dashboard and the package from the Worker, not the demo receiver', async () => {
    await page.goto(`${base}/?events=${encodeURIComponent(`${receiverBase}/events`)}`);
    await page.waitForSelector('html[data-ready=true]', { timeout: 15_000 });
    assert.equal(await page.locator('#events-url').inputValue(), `${receiverBase}/events`);
    assert.equal(await page.locator('#stream-state').getAttribute('data-state'), 'closed', 'no stream before sign-in');
    assert.equal((await fetch(`${base}/demo-receiver/server.mjs`)).ok, false, '.assetsignore keeps the receiver out of the assets');
    assert.deepEqual(problems, []);
  });

  it('signs in with an emulator token minted in the page', async () => {
    await page.locator('#uid').fill('dash-alice');
    await page.locator('#uid').press('Enter');
    await page.waitForSelector('#subs-status:has-text("No webhooks yet")', { timeout: 10_000 });
    assert.equal(await page.locator('#whoami').textContent(), 'Signed in as dash-alice');
    assert.equal(await page.locator('#simulate').isVisible(), true, 'local mode: simulate controls');
    await page.waitForSelector('#stream-state[data-state=live]', { timeout: 10_000 });
    await screenshot('signed-in');
  });

  it('registers the demo receiver, shows the secret once and hands it to the receiver', async () => {
    const hook = `${receiverBase}/api/webhook`;
    assert.equal(await page.locator('#webhook-url').inputValue(), hook, 'prefilled from the receiver setting');
    for (const event of ['call.initiated', 'call.scheduled', 'call.status.changed', 'call.completed', 'call.failed']) {
      await page.locator(`#register-events input[value="${event}"]`).check();
    }
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    const secret = page.locator('#register-secret .secret-value');
    await secret.waitFor({ timeout: 10_000 });
    assert.match(await secret.inputValue(), /^whsec_[A-Za-z0-9+/]{43}=$/);
    await page.waitForSelector('#register-secret .receiver-note:has-text("Handed to the demo receiver")', { timeout: 5_000 });
    assert.equal((await (await fetch(`${receiverBase}/`)).json()).secrets, 1);
    const card = page.locator('#subs [data-sub-id]');
    assert.equal(await card.count(), 1);
    assert.equal(await card.locator('.badge').first().textContent(), 'active');
    assert.equal(await card.locator('.url').textContent(), hook);
    await screenshot('registered-secret');
  });

  it('simulates a completed call: its row goes through the statuses to completed', async () => {
    await page.evaluate(() => {
      window.seen = {};
      window.addEventListener('callStatusChanged', (e) => { (window.seen[e.detail.callId] ??= []).push(e.detail.status); });
    });
    await page.locator('#sim-completed').click();
    const row = page.locator('.call-item.status-completed');
    await row.waitFor({ timeout: 20_000 });
    assert.equal(await row.getAttribute('class'), 'call-item status-completed');
    assert.equal(await row.locator('.status').textContent(), 'completed');
    const callId = await row.getAttribute('data-call-id');
    await waitFor(() => verifiedLines(callId).length === 4, 15_000, { intervalMs: EVERY, message: () => `4 verified deliveries of ${callId}:\n${receiverOutput}` });
    // The stream and the webhooks are separate routes: wait until the page has applied the last event too.
    const seen = await waitFor(async () => {
      const applied = await page.evaluate((id) => window.seen[id] ?? [], callId);
      return applied.at(-1) === 'completed' && applied;
    }, 15_000, { intervalMs: EVERY, message: () => `the page applies ${callId} up to completed` });
    const trail = await row.locator('.trail li').allTextContents();
    assert.deepEqual(trail, seen);
    // Deliveries are concurrent, so one may overtake another: the dispatcher drops the stale ones, and the row
    // only ever moves forward.
    assert.equal(seen.at(-1), 'completed');
    for (let i = 1; i < seen.length; i++) assert.ok(RANK[seen[i]] > RANK[seen[i - 1]], `moves forward: ${seen}`);
    console.log(`# ${callId}: relayed ${verifiedLines(callId).map((l) => l.split(' ')[3]).join(', ')}; applied ${seen.join(' → ')}`);
    assert.match(await page.locator('#toasts').textContent(), /completed successfully/);
    await screenshot('call-completed');
  });

  it('simulates a failed call: status-failed with a Retry button', async () => {
    await page.locator('#sim-failed').click();
    const row = page.locator('.call-item.status-failed');
    await row.waitFor({ timeout: 20_000 });
    const retry = row.getByRole('button', { name: 'Retry' });
    await retry.waitFor({ state: 'visible', timeout: 5_000 });
    assert.equal(await retry.isEnabled(), true);
    assert.equal(await row.locator('.status').textContent(), 'failed');
    await screenshot('call-failed');
    const failedId = await row.getAttribute('data-call-id');
    await retry.click(); // simulates the call again, as a new call
    assert.equal(await row.locator('.retry').textContent(), 'Retried');
    await page.locator('.call-item.status-completed').nth(1).waitFor({ timeout: 20_000 });
    assert.equal(await page.locator(`[data-call-id="${failedId}"]`).getAttribute('class'), 'call-item status-failed');
  });

  it('sends a test event and shows the receiver’s 200', async () => {
    const card = page.locator('#subs [data-sub-id]');
    await card.getByLabel('Test event type').selectOption('call.completed');
    await card.getByRole('button', { name: 'Send test' }).click();
    const result = card.locator('.test-result.ok');
    await result.waitFor({ timeout: 15_000 });
    const text = await result.textContent();
    assert.match(text, /Delivered · HTTP 200 · \d+ ms/);
    assert.match(text, /"success":true/);
    await screenshot('test-event');
  });

  it('opens the delivery log, newest first, with more on demand', async () => {
    const card = page.locator('#subs [data-sub-id]');
    await card.getByRole('button', { name: 'Delivery log' }).click();
    const entries = card.locator('.log .delivery');
    await entries.first().waitFor({ timeout: 10_000 });
    assert.ok(await entries.count() >= 1);
    assert.ok(await card.locator('.log .delivery.outcome-delivered').count() >= 1);
    const times = await entries.locator('time').evaluateAll((els) => els.map((e) => Date.parse(e.getAttribute('datetime'))));
    for (let i = 1; i < times.length; i++) assert.ok(times[i] <= times[i - 1], 'newest first');
    const before = await entries.count();
    const more = card.getByRole('button', { name: 'More' });
    if (await more.isVisible()) {
      await more.click();
      await waitFor(async () => (await entries.count()) > before, 10_000, { intervalMs: EVERY, message: 'a second page of the log' });
    }
    console.log(`# delivery log: ${await entries.count()} entries shown`);
    // Every event so far was delivered: recovering the last day queues nothing, and says so.
    await card.getByRole('button', { name: 'Recover failed deliveries' }).click();
    await card.locator('.recover-form [role=status]', { hasText: 'Nothing to recover' }).waitFor({ timeout: 10_000 });
    await screenshot('delivery-log');
  });

  it('reports API errors, edits events, deactivates and reactivates, rotates the secret', async () => {
    const card = page.locator('#subs [data-sub-id]');
    await page.getByRole('button', { name: 'Register', exact: true }).click(); // the same URL again
    await page.waitForSelector('#register-error:has-text("subscription_exists, HTTP 409")', { timeout: 10_000 });

    await card.getByRole('button', { name: 'Edit events' }).click();
    await card.locator('.edit-events input[value="*"]').check();
    await card.getByRole('button', { name: 'Save events' }).click();
    await card.locator('.meta dd', { hasText: /^\*$/ }).waitFor({ timeout: 10_000 });

    await card.getByRole('button', { name: 'Deactivate' }).click();
    await card.locator('.badge.deactivated').waitFor({ timeout: 10_000 });
    await card.getByRole('button', { name: 'Reactivate' }).click();
    await card.locator('.badge.active').waitFor({ timeout: 10_000 });

    const first = await page.locator('#register-secret .secret-value').inputValue();
    await card.getByRole('button', { name: 'Rotate secret' }).click(); // confirm() accepted
    const rotated = card.locator('.secret .secret-value');
    await rotated.waitFor({ timeout: 10_000 });
    assert.notEqual(await rotated.inputValue(), first);
    await card.locator('.receiver-note', { hasText: 'Handed to the demo receiver' }).waitFor({ timeout: 5_000 });
    assert.equal((await (await fetch(`${receiverBase}/`)).json()).secrets, 2);
    await card.getByRole('button', { name: 'Send test' }).click();
    await card.locator('.test-result.ok').waitFor({ timeout: 15_000 });
    await screenshot('rotated');
  });

  it('draws each webhook\'s delivery health: the counts the API keeps, in the chart\'s data, its table and its text', async () => {
    // A second webhook whose receiver answers 404: its deliveries fail and are retried.
    await page.locator('#webhook-url').fill(`${receiverBase}/missing`);
    await page.locator('#register-events input[value="call.completed"]').check();
    await page.getByRole('button', { name: 'Register', exact: true }).click();
    await waitFor(async () => (await page.locator('#subs [data-sub-id]').count()) === 2, 10_000, { intervalMs: EVERY, message: 'a second card' });
    const failing = page.locator('#subs [data-sub-id]', { hasText: '/missing' });
    const working = page.locator('#subs [data-sub-id]', { hasNotText: '/missing' });
    await page.locator('#sim-completed').click();
    const totalsOf = async (card) => {
      await card.getByRole('button', { name: 'Reload health' }).click();
      await card.locator('.health-panel [role=status]:text-is("")').waitFor({ state: 'attached', timeout: 10_000 });
      return JSON.parse(await card.locator('figure.health').getAttribute('data-totals'));
    };
    const failed = await waitFor(async () => { const t = await totalsOf(failing); return t.retried >= 1 && t; }, 20_000, { intervalMs: EVERY, message: 'a retried delivery in the failing card' });
    const worked = await waitFor(async () => { const t = await totalsOf(working); return t.delivered >= 1 && t; }, 20_000, { intervalMs: EVERY, message: 'deliveries in the working card' });
    // What the page drew is what the API counts.
    const fromApi = await page.evaluate(async (ids) => {
      const { state } = await import('/state.js');
      return Promise.all(ids.map(async (id) => (await state.client.stats(id)).totals));
    }, [await failing.getAttribute('data-sub-id'), await working.getAttribute('data-sub-id')]);
    const footer = async (card, outcome) => card.locator(`.health-table tfoot td[data-outcome=${outcome}]`).textContent();
    assert.deepEqual({
      drawn: [failed, worked],
      failingDelivered: failed.delivered,
      failingRetriedCell: await footer(failing, 'retried'),
      workingDeliveredCell: await footer(working, 'delivered'),
      failingChartText: (await failing.locator('svg.health-chart title').first().textContent()).includes(`${failed.retried} retried`),
      failingRate: await failing.locator('.meta dd', { hasText: '%' }).textContent(),
      bars: (await failing.locator('svg.health-chart rect.outcome-retried').count()) >= 1,
    }, {
      drawn: fromApi,
      failingDelivered: 0,
      failingRetriedCell: String(failed.retried),
      workingDeliveredCell: String(worked.delivered),
      failingChartText: true,
      failingRate: '0 % (24 h)',
      bars: true,
    });
    await failing.locator('.health-panel').scrollIntoViewIfNeeded();
    await screenshot('delivery-health');
    await failing.getByRole('button', { name: 'Delete' }).click();
    await waitFor(async () => (await page.locator('#subs [data-sub-id]').count()) === 1, 10_000, { intervalMs: EVERY, message: 'the failing webhook deleted' });
  });

  it('is readable at 375 px and left no page errors', async () => {
    await page.setViewportSize({ width: 375, height: 800 });
    await screenshot('narrow-375');
    const { overflow, wide } = await page.evaluate(() => {
      const width = document.documentElement.clientWidth;
      const wide = [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > width + 1)
        .map((el) => `${el.tagName.toLowerCase()}.${el.className}`);
      return { overflow: document.documentElement.scrollWidth - width, wide: wide.slice(0, 8) };
    });
    assert.ok(overflow <= 0, `no horizontal scrolling at 375 px (overflow ${overflow}px: ${wide.join(' ')})`);
    // The only failed request is the deliberate 409 (Chromium logs every non-2xx fetch).
    assert.deepEqual(problems.filter((p) => !/status of 409 .*\/subscribe\)$/.test(p)), []);
  });

  it('deletes the webhook after a confirm', async () => {
    await page.locator('#subs [data-sub-id]').getByRole('button', { name: 'Delete' }).click();
    await page.waitForSelector('#subs-status:has-text("No webhooks yet")', { timeout: 10_000 });
    assert.equal(await page.locator('#subs [data-sub-id]').count(), 0);
  });
});
