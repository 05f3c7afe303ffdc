// A law that closes during the test, against a real `scrutin serve` counting in groups of k = 3:
// before the close the results page shows nothing counted yet and the ballots waiting for their
// group, announces the signed record with its date, and the receipt page says a real receipt is
// not counted yet; after the close, without a reload, the same page shows the final results and
// the law's record (tally, reconciliation, receipts list with its SHA-256, signature), and the
// receipt is counted (a receipt nobody was given is then one to report). axe-core's WCAG A/AA
// rules run after every step.
'use strict';

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const {after, before, test} = require('node:test');

const {startElection, outputDir, rfc3339} = require('./support/election.js');
const {
  STRINGS,
  assertOnlyLanguage,
  launchBrowser,
  openSession,
  tabTo,
} = require('./support/browser.js');

// Long enough for the steps before the close (about 6 s on a loaded 2-core machine), short
// enough not to idle: the suite waits for the close.
const CLOSE_IN_MS = 12000;
const K = 3;

let election;
let browser;
let law;

before(async () => {
  election = await startElection('record', {
    voters: 12,
    laws: (now) => ({
      closing: {
        law_id: 'L2026-101',
        title_fr: 'Loi sur les archives publiques',
        title_en: 'Public Archives Act',
        opens_at: rfc3339(now - 3600 * 1000),
        closes_at: rfc3339(now + CLOSE_IN_MS),
        results: 'live',
      },
    }),
    mixSize: K,
    // The last group is mixed this long after the close, then the record is sealed.
    serveArgs: ['--mix-settle-ms', '300'],
  });
  law = election.laws.closing;
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (election) {
    const code = await election.close();
    assert.equal(code, 0, `scrutin serve exited ${code} on SIGTERM`);
  }
});

const AXE = {axe: true};

async function recordSection(page) {
  return page.evaluate((id) => {
    const sec = document.getElementById('record-' + id);
    if (!sec) return null;
    const rows = {};
    for (const tr of sec.querySelectorAll('tr[data-count]')) {
      rows[tr.dataset.count] = {
        value: tr.dataset.value,
        mismatch: tr.classList.contains('is-mismatch'),
        check: tr.querySelector('.record-check').innerText,
      };
    }
    const link = sec.querySelector('.record-receipts-link');
    const code = (sel) => sec.querySelector(sel + ' code')?.innerText ?? null;
    return {
      state: sec.dataset.state,
      text: sec.innerText.replace(/[\u00a0\u202f]/g, ' '),
      rows,
      total: sec.querySelector('.record-tally')?.dataset.total ?? null,
      link: link ? {href: link.getAttribute('href'), count: link.dataset.count} : null,
      sha256: code('.record-sha256'),
      publicKey: code('.record-pubkey'),
      signature: code('.record-signature'),
      mismatchNotice: Boolean(sec.querySelector('.record-mismatch')),
    };
  }, law.law_id);
}

async function waitFor(what, fn, timeout) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not seen within ${timeout / 1000} s`);
}

async function receiptOutcome(page) {
  await page.waitForFunction(() => {
    const k = document.querySelector('#receipt-live')?.dataset.outcome;
    return k && k !== 'checking';
  }, null, {timeout: 15000});
  return {
    kind: await page.locator('#receipt-live').getAttribute('data-outcome'),
    text: (await page.locator('#receipt-live').innerText()).replace(/[\u00a0\u202f]/g, ' '),
  };
}

test('a law closing during the test: groups, the record announced, then published', {
  timeout: 90000,
}, async () => {
  // 3 OUI and 1 NON through the API: fewer than 2k, so the mixer counts none before the close.
  const receipts = [];
  for (const vote of ['oui', 'oui', 'non', 'oui']) {
    const st = await election.castVoteStatus(election.takeVoter(), law.law_id, vote);
    assert.equal(st.status, 'accepted');
    receipts.push(st.receipt);
  }
  const closesAt = Date.parse(law.closes_at);
  const s = await openSession(browser, outputDir(), 'record', {locale: 'en-CA'}, AXE);
  const page = s.page;
  try {
    await s.step('before the close: a real receipt is not counted yet', async () => {
      await page.goto(election.baseUrl + '/receipt.html#' + receipts[0]);
      const o = await receiptOutcome(page);
      assert.equal(o.kind, 'pending', o.text);
      assert.ok(o.text.includes(STRINGS.en['receipt.pending.h']), o.text);
      assert.ok(o.text.includes('Check again after voting closes'), o.text);
    });
    await s.step('before the close: nothing counted, 4 waiting for their group', async () => {
      await page.goto(election.baseUrl + '/results.html');
      const card = page.locator(`.result-card[data-law="${law.law_id}"]`);
      await page.locator(`.result-card[data-law="${law.law_id}"][data-state="ok"]`).waitFor();
      const text = await card.innerText();
      assert.equal(await card.locator('.result-total').getAttribute('data-total'), '0', text);
      assert.ok(text.includes('4 more ballots are recorded and will be counted with their group'),
                text);
      assert.ok(text.includes(STRINGS.en['results.live'].split('{')[0]), 'provisional');
      const intro = await page.locator('.lead').innerText();
      assert.ok(intro.includes('counted in shuffled groups'), intro);
    });
    await s.step('before the close: the record is announced with its date (real 403)', async () => {
      const rec = await waitFor('the pending record', async () => {
        const r = await recordSection(page);
        return r && r.state === 'pending' && r;
      }, 10000);
      assert.ok(rec.text.includes('will be published when voting closes'), rec.text);
      assert.ok(rec.text.includes(String(new Date(closesAt).getFullYear())), rec.text);
      assert.ok(Date.now() < closesAt, 'the close came before these steps ended: raise CLOSE_IN_MS');
    });
    await s.step('the same page after the close: final results, no reload', async () => {
      const card = page.locator(`.result-card[data-law="${law.law_id}"]`);
      await card.locator('.badge-final').waitFor({timeout: closesAt - Date.now() + 15000});
      assert.equal(await card.locator('.result-total').getAttribute('data-total'), '4');
      assert.equal(await card.locator('.bar-oui .bar-value').getAttribute('data-count'), '3');
      assert.equal(await card.locator('.bar-non .bar-value').getAttribute('data-count'), '1');
      assert.equal(await card.locator('.result-uncounted').count(), 0, 'nothing left waiting');
    });
    let shown;
    await s.step('the real record: tally, reconciliation, receipts, signature', async () => {
      shown = await waitFor('the published record', async () => {
        const r = await recordSection(page);
        return r && r.state === 'ok' && r;
      }, 10000);
      const res = await fetch(`${election.baseUrl}/api/v1/record/${law.law_id}`);
      assert.equal(res.status, 200);
      const api = await res.json();
      assert.equal(shown.total, '4');
      assert.ok(shown.text.includes('Signed tally: OUI (yes) 3, NON (no) 1, total 4.'), shown.text);
      for (const name of ['accepted', 'claims', 'ballots', 'receipts', 'tallied']) {
        assert.deepEqual(shown.rows[name], {value: '4', mismatch: false, check: 'Equal'}, name);
      }
      assert.ok(shown.text.includes(STRINGS.en['record.recon.ok']));
      assert.equal(shown.mismatchNotice, false);
      assert.deepEqual(shown.link, {href: api.receipts.url, count: '4'});
      assert.equal(shown.sha256, api.receipts.sha256);
      assert.match(shown.publicKey, /^[0-9a-f]{64}$/);
      assert.equal(shown.publicKey, api.signature.public_key);
      assert.match(shown.signature, /^[0-9a-f]{128}$/);
      assert.equal(shown.signature, api.signature.value);
      assert.ok(shown.text.includes('Signature (Ed25519):'), shown.text);
      assert.ok(shown.text.includes(`scrutin verify-record --url ${election.baseUrl}`), shown.text);
    });
    await s.step('keyboard: the receipts list is the 4 receipts, sorted, with that SHA-256',
                 async () => {
                   await tabTo(page, `#record-${law.law_id} .record-receipts-link`, 60);
                   await tabTo(page, `#record-${law.law_id} a[href="receipt.html"]`, 5);
                   await page.keyboard.press('Shift+Tab');
                   await page.keyboard.press('Enter');
                   await page.waitForURL(/\/receipts$/);
                   const res = await page.request.get(page.url());
                   const body = await res.body();
                   await page.goBack();
                   assert.equal(body.toString('utf8'), receipts.slice().sort().join('\n') + '\n');
                   assert.equal(crypto.createHash('sha256').update(body).digest('hex'),
                                shown.sha256);
                   await page.locator(`#record-${law.law_id}[data-state="ok"]`).waitFor();
                 });
    await s.step('the record in French', async () => {
      await page.locator('.lang-toggle').click();
      await page.waitForFunction(() => document.documentElement.lang === 'fr');
      await assertOnlyLanguage(page, 'fr', [law.title_en]);
      const rec = await recordSection(page);
      assert.ok(rec.text.includes('Décompte signé : OUI 3, NON 1, total 4.'), rec.text);
      assert.equal(rec.rows.ballots.check, 'Égal');
      assert.ok(rec.text.includes('Liste des reçus comptés (4)'), rec.text);
    });
    await s.step('after the close: the receipt is counted', async () => {
      await page.goto(election.baseUrl + '/receipt.html#' + receipts[0].toLowerCase());
      const o = await receiptOutcome(page);
      assert.equal(o.kind, 'counted', o.text);
      assert.ok(o.text.includes(law.title_fr), o.text);
    });
    await s.step('after the close: a receipt still missing is one to report', async () => {
      // The first receipt with one character changed: well formed, never issued.
      const r = receipts[0];
      const other = r.slice(0, -1) + (r.endsWith('0') ? '1' : '0');
      await page.locator('#receipt').fill(other);
      await page.locator('#check').click();
      const o = await receiptOutcome(page);
      assert.equal(o.kind, 'missing', o.text);
      assert.ok(o.text.includes(STRINGS.fr['receipt.missing.h']), o.text);
      assert.ok(o.text.includes('signalez-le sans tarder'), o.text);
    });
  } finally {
    await s.close();
  }
});

// A real record's counts always agree (the server cannot be made to disagree with itself on
// demand), so for this one test the page's GET /api/v1/record/{law} is intercepted: the real
// record is fetched from the server and one count is lowered by one before the page sees it.
// What is tested is how the page shows a discrepancy.
test('a count that differs from the tally is highlighted (intercepted record)', {
  timeout: 60000,
}, async () => {
  const s = await openSession(browser, outputDir(), 'record mismatch', {locale: 'en-CA'}, AXE);
  try {
    await s.step('the ballots count is one short', async () => {
      await s.page.route(`**/api/v1/record/${law.law_id}`, async (route) => {
        const res = await route.fetch();
        assert.equal(res.status(), 200, 'the real record, sealed by the first test');
        const record = await res.json();
        record.reconciliation.ballots -= 1;
        return route.fulfill({response: res, json: record});
      });
      await s.page.goto(election.baseUrl + '/results.html');
      const rec = await waitFor('the record', async () => {
        const r = await recordSection(s.page);
        return r && r.state === 'ok' && r;
      }, 10000);
      assert.deepEqual(rec.rows.ballots, {value: '3', mismatch: true, check: 'Differs by −1'});
      for (const name of ['accepted', 'claims', 'receipts', 'tallied']) {
        assert.equal(rec.rows[name].mismatch, false, name);
      }
      assert.equal(rec.mismatchNotice, true);
      assert.ok(rec.text.includes(STRINGS.en['record.recon.mismatch']), rec.text);
      assert.ok(!rec.text.includes(STRINGS.en['record.recon.ok']), rec.text);
    });
  } finally {
    await s.close();
  }
});
