// The "check my receipt" page against a real `scrutin serve` (groups of one, so an accepted
// ballot is counted before its 202): from the vote confirmation's link to "counted" in both
// languages; by keyboard only, a receipt typed in lower case without dashes, an empty field and
// typos that never reach the server, a receipt nobody was given (the real 404, explained in both
// languages), and how 429, 503 and a server gone away are explained. axe-core's WCAG A/AA rules
// run after every step. record.test.js checks a receipt before and after its group is counted.
'use strict';

const assert = require('node:assert/strict');
const {after, before, test} = require('node:test');

const {startElection, outputDir} = require('./support/election.js');
const {
  STRINGS,
  assertOnlyLanguage,
  launchBrowser,
  openSession,
  tabTo,
} = require('./support/browser.js');

let election;
let browser;

before(async () => {
  election = await startElection('receipt');
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

// The outcome the page settles on: its kind and text (spaces normalised).
async function settled(page) {
  await page.waitForFunction(() => {
    const k = document.querySelector('#receipt-live')?.dataset.outcome;
    return k && k !== 'checking';
  }, null, {timeout: 15000});
  const live = page.locator('#receipt-live');
  return {
    kind: await live.getAttribute('data-outcome'),
    text: (await live.innerText()).replace(/[\u00a0\u202f]/g, ' '),
  };
}

// The receipts the page asked the API about.
function watchReceiptRequests(page) {
  const seen = [];
  page.on('request', (r) => {
    const m = r.url().match(/\/api\/v1\/receipts\/(.*)$/);
    if (m) seen.push(decodeURIComponent(m[1]));
  });
  return seen;
}

// A well-formed receipt that no ballot was given (80 random bits: no collision in practice).
function unissuedReceipt() {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let s = '';
  for (let i = 0; i < 16; i++) s += alphabet[Math.floor(Math.random() * 32)];
  return s.match(/.{4}/g).join('-');
}

test('from the vote confirmation to "counted", in French and English', {timeout: 60000},
     async () => {
       const s = await openSession(browser, outputDir(), 'receipt from vote', {}, AXE);
       const voter = election.takeVoter();
       const law = election.laws.openA;
       const asked = watchReceiptRequests(s.page);
       let receipt;
       try {
         await s.step('vote through the page', async () => {
           await s.page.goto(election.baseUrl + '/');
           await s.page.locator(`label[for="law-${law.law_id}"]`).click();
           await s.page.locator('#nas').pressSequentially(voter.nas);
           await s.page.locator('#code').pressSequentially(voter.code);
           await s.page.locator('input[name="vote"][value="non"]').check();
           await s.page.locator('#continue').click();
           await s.page.locator('#confirm').click();
           await s.page.locator('#outcome-live[data-outcome="accepted"]').waitFor({timeout: 20000});
           receipt = (await s.page.locator('#receipt code').innerText()).trim();
           assert.match(receipt, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
           const nav = s.page.locator('.site-nav a[href="receipt.html"]');
           assert.equal(await nav.innerText(), STRINGS.fr['nav.receipt'], 'in the navigation');
         });
         await s.step('the confirmation links to the check, which says "counted"', async () => {
           const link = s.page.getByRole('link', {name: STRINGS.fr['outcome.receipt.check']});
           await link.click();
           await s.page.waitForURL(/\/receipt\.html#/);
           const o = await settled(s.page);
           assert.equal(o.kind, 'counted', o.text);
           assert.ok(o.text.includes(STRINGS.fr['receipt.counted.h']), o.text);
           assert.ok(o.text.includes(receipt), 'the receipt is named');
           assert.ok(o.text.includes(law.law_id) && o.text.includes(law.title_fr), o.text);
           assert.ok(o.text.includes('personne ne peut le savoir'), 'says the choice stays secret');
           assert.equal(await s.page.locator('#receipt').inputValue(), receipt, 'prefilled');
           assert.deepEqual(asked, [receipt], 'one GET /api/v1/receipts/{receipt}');
           assert.equal(
               await s.page.evaluate(() => document.activeElement.id), 'receipt-outcome',
               'focus moves to the answer');
           await assertOnlyLanguage(s.page, 'fr');
         });
         await s.step('the same answer in English', async () => {
           await s.page.locator('.lang-toggle').click();
           await s.page.waitForFunction(() => document.documentElement.lang === 'en');
           await assertOnlyLanguage(s.page, 'en', [law.title_fr]);
           const text = await s.page.locator('#receipt-live').innerText();
           assert.ok(text.includes(STRINGS.en['receipt.counted.h']), text);
           assert.ok(text.includes(law.title_en), text);
         });
       } finally {
         await s.close();
       }
     });

// 429 and 503 cannot be provoked reliably from one page against a real server (the read
// allowance and the lookup pool are far above what a page sends), so for those two steps the
// page's request is answered by the browser itself with what a loaded server sends; what is
// tested is the page. Every other answer here is the real server's.
test('keyboard only; a receipt not counted, typos, 429, 503 and a server gone away',
     {timeout: 60000}, async () => {
       const voted =
           await election.castVoteStatus(election.takeVoter(), election.laws.openB.law_id, 'oui');
       assert.equal(voted.status, 'accepted');
       const s = await openSession(browser, outputDir(), 'receipt keyboard', {locale: 'en-CA'}, AXE);
       const kb = s.page.keyboard;
       const asked = watchReceiptRequests(s.page);
       const unissued = unissuedReceipt();
       try {
         await s.step('open the page: skip link first', async () => {
           await s.page.goto(election.baseUrl + '/receipt.html');
           await s.page.locator('#receipt-form').waitFor();
           assert.equal(await s.page.locator('h1').innerText(), STRINGS.en['receipt.h1']);
           const nav = s.page.locator('.site-nav a[aria-current="page"]');
           assert.equal(await nav.innerText(), STRINGS.en['nav.receipt']);
           await kb.press('Tab');
           assert.equal(await s.page.evaluate(() => document.activeElement.className), 'skip-link');
         });
         await s.step('Tab to the field, type in lower case without dashes, Enter', async () => {
           await tabTo(s.page, '#receipt');
           await kb.type(voted.receipt.replace(/-/g, '').toLowerCase());
           await kb.press('Enter');
           const o = await settled(s.page);
           assert.equal(o.kind, 'counted', o.text);
           assert.ok(o.text.includes(STRINGS.en['receipt.counted.h']), o.text);
           assert.ok(o.text.includes(voted.receipt), 'shown as the API writes it');
           assert.deepEqual(asked, [voted.receipt], 'sent in the canonical form');
           assert.equal(await s.page.evaluate(() => document.activeElement.id), 'receipt-outcome');
         });
         await s.step('empty: asked to enter one, focus back on the field', async () => {
           await tabTo(s.page, '#receipt');
           await kb.press('Control+A');
           await kb.press('Delete');
           await tabTo(s.page, '#check');
           await kb.press('Enter');
           assert.equal(
               await s.page.locator('#receipt-error').innerText(), STRINGS.en['receipt.err.missing']);
           assert.equal(await s.page.locator('#receipt').getAttribute('aria-invalid'), 'true');
           assert.equal(await s.page.evaluate(() => document.activeElement.id), 'receipt');
           assert.equal(await s.page.locator('#receipt-live').innerText(), '', 'no stale answer');
         });
         await s.step('too short, or a letter no receipt has: a format error, nothing sent', async () => {
           for (const typo of ['ABCD-EFGH', unissued.slice(0, -1) + 'U']) {
             await s.page.locator('#receipt').fill(typo);
             await kb.press('Enter');
             assert.equal(
                 await s.page.locator('#receipt-error').innerText(),
                 STRINGS.en['receipt.err.format'], typo);
           }
           assert.equal(asked.length, 1, 'nothing more was sent');
         });
         await s.step('well formed but never issued: the real 404, explained', async () => {
           await s.page.locator('#receipt').fill(unissued);
           await kb.press('Enter');
           const o = await settled(s.page);
           assert.equal(o.kind, 'pending', o.text);
           assert.equal(asked[asked.length - 1], unissued);
           assert.ok(await s.page.locator('#receipt-error').isHidden(), 'the format error is gone');
           assert.ok(o.text.includes(STRINGS.en['receipt.pending.h']), o.text);
           assert.ok(o.text.includes('shuffled groups'), 'says ballots are counted in groups');
           assert.ok(o.text.includes('election authority'), 'says whom to tell');
           const year = new Date(election.laws.openA.closes_at).getFullYear();
           assert.ok(o.text.includes(String(year)), `says when voting closes: ${o.text}`);
         });
         await s.step('the explanation in French', async () => {
           await s.page.locator('.lang-toggle').click();
           await s.page.waitForFunction(() => document.documentElement.lang === 'fr');
           await assertOnlyLanguage(s.page, 'fr');
           const text = await s.page.locator('#receipt-live').innerText();
           assert.ok(text.includes(STRINGS.fr['receipt.pending.h']), text);
           assert.ok(text.includes('groupes mélangés'), text);
           assert.ok(text.includes('administration électorale'), text);
         });
         for (const [status, kind, error] of [[429, 'busy', 'rate_limited'],
                                              [503, 'unavailable', 'unavailable']]) {
           await s.step(`${status} (answered by the browser): "${kind}" with the wait`, async () => {
             await s.page.route('**/api/v1/receipts/**', (route) => route.fulfill({
               status,
               headers: {'Retry-After': '7', 'Content-Type': 'application/json'},
               body: JSON.stringify({error, message: 'Try again shortly.'}),
             }));
             await s.page.locator('#check').click();
             const o = await settled(s.page);
             assert.equal(o.kind, kind, o.text);
             assert.ok(o.text.includes(STRINGS.fr[`outcome.${kind}.h`]), o.text);
             assert.ok(o.text.includes('Réessayez dans 7 secondes'), o.text);
             await s.page.unrouteAll();
           });
         }
         await s.step('the server stops: "connexion impossible"', async () => {
           assert.equal(await election.stop(), 0);
           await s.page.locator('#check').click();
           const o = await settled(s.page);
           assert.equal(o.kind, 'network', o.text);
           assert.ok(o.text.includes(STRINGS.fr['outcome.network.h']), o.text);
           assert.ok(o.text.includes(STRINGS.fr['receipt.network.body']), o.text);
         });
       } finally {
         await s.close();
       }
     });
