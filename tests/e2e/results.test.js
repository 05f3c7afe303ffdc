// The results page against a real `scrutin serve`: it shows the counts cast in the test (one
// vote through the vote page, the others through the API), follows new votes live, keeps the
// embargoed law's numbers hidden and says when they will be published.
'use strict';

const assert = require('node:assert/strict');
const {after, before, test} = require('node:test');

const {startElection, outputDir} = require('./support/election.js');
const {STRINGS, launchBrowser, openSession} = require('./support/browser.js');

let election;
let browser;

before(async () => {
  election = await startElection('results');
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (election) {
    const code = await election.close();
    assert.equal(code, 0, `scrutin serve exited ${code} on SIGTERM`);
  }
});

// The numbers a card shows, read from the page as rendered (null where the card has none).
// Spaces are normalised: French number formats use no-break spaces.
async function card(page, lawId) {
  return page.evaluate((id) => {
    const c = document.querySelector(`.result-card[data-law="${id}"]`);
    if (!c) return null;
    const attr = (sel, name) => {
      const e = c.querySelector(sel);
      return e ? e.getAttribute(name) : null;
    };
    return {
      state: c.dataset.state,
      text: c.innerText.replace(/[\u00a0\u202f]/g, ' '),
      oui: attr('.bar-oui .bar-value', 'data-count'),
      non: attr('.bar-non .bar-value', 'data-count'),
      total: attr('.result-total', 'data-total'),
    };
  }, lawId);
}

async function waitCard(page, lawId, predicate, timeout = 20000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await card(page, lawId).catch(() => null);
    if (last && predicate(last)) return last;
    await page.waitForTimeout(250);
  }
  throw new Error(`card ${lawId} never matched; last seen: ${JSON.stringify(last)}`);
}

test(
    'results page shows the counts cast in the test and follows them live', {timeout: 120000},
    async () => {
      const {openA, openB, closed, embargoed} = election.laws;

      const voteSession = await openSession(browser, outputDir(), 'results vote through the page');
      try {
        await voteSession.step('one OUI on the first law through the vote page', async () => {
          const page = voteSession.page;
          const voter = election.takeVoter();
          await page.goto(election.baseUrl + '/');
          await page.locator(`label[for="law-${openA.law_id}"]`).click();
          await page.locator('#nas').pressSequentially(voter.nas);
          await page.locator('#code').pressSequentially(voter.code);
          await page.locator('input[name="vote"][value="oui"]').check();
          await page.locator('#continue').click();
          await page.locator('#confirm').click();
          await page.locator('#outcome-live[data-outcome="accepted"]').waitFor({timeout: 20000});
        });
      } finally {
        await voteSession.close();
      }

      // Through the API: first law 2 more OUI and 1 NON (3 OUI, 1 NON in all); second law 1 NON;
      // embargoed law 1 OUI (must not show); plus a duplicate that must not count.
      const plan =
          [[openA, 'oui'], [openA, 'oui'], [openA, 'non'], [openB, 'non'], [embargoed, 'oui']];
      let repeat = null;
      for (const [law, vote] of plan) {
        const voter = election.takeVoter();
        repeat = repeat || {voter, law};
        const status = await election.castVote(voter, law.law_id, vote);
        assert.equal(status, 'accepted', `API vote on ${law.law_id}`);
      }
      assert.equal(await election.castVote(repeat.voter, repeat.law.law_id, 'non'), 'duplicate');

      const s = await openSession(browser, outputDir(), 'results page', {locale: 'en-CA'});
      try {
        await s.step('open the results page', async () => {
          await s.page.goto(election.baseUrl + '/results.html');
          assert.equal(await s.page.locator('h1').innerText(), STRINGS.en['results.h1']);
        });
        await s.step('first law: 3 OUI, 1 NON, 4 counted', async () => {
          const c =
              await waitCard(s.page, openA.law_id, (x) => x.state === 'ok' && x.total === '4');
          assert.equal(c.oui, '3');
          assert.equal(c.non, '1');
          assert.ok(c.text.includes('3 votes (75.0%)'), `OUI share shown: ${c.text}`);
          assert.ok(c.text.includes('1 vote (25.0%)'), `NON share shown: ${c.text}`);
          assert.ok(c.text.includes('Votes counted: 4'));
          assert.ok(c.text.includes(openA.title_en));
          const widths = await s.page.locator(`.result-card[data-law="${openA.law_id}"] .bar-fill`)
                             .evaluateAll(
                                 (bars) => bars.map(
                                     (b) => b.getBoundingClientRect().width /
                                         b.parentElement.getBoundingClientRect().width));
          assert.ok(
              Math.abs(widths[0] - 0.75) < 0.02 && Math.abs(widths[1] - 0.25) < 0.02,
              `bars drawn to scale: ${widths}`);
        });
        await s.step('second law: 0 OUI, 1 NON', async () => {
          const c = await waitCard(s.page, openB.law_id, (x) => x.state === 'ok');
          assert.equal(c.oui, '0');
          assert.equal(c.non, '1');
          assert.equal(c.total, '1');
          assert.ok(c.text.includes('0 votes (0.0%)'));
          assert.ok(c.text.includes('1 vote (100.0%)'));
        });
        await s.step('closed law: final results', async () => {
          const c = await waitCard(s.page, closed.law_id, (x) => x.state === 'ok');
          assert.equal(c.total, '0');
          assert.ok(c.text.includes(STRINGS.en['results.final']));
        });
        await s.step('embargoed law: no numbers, publication time shown', async () => {
          const c = await waitCard(s.page, embargoed.law_id, (x) => x.state === 'embargo');
          assert.equal(c.oui, null, 'no count on an embargoed law');
          assert.ok(c.text.includes('Results for this law will be published when voting closes'));
          const year = new Date(embargoed.closes_at).getUTCFullYear();
          assert.ok(c.text.includes(String(year)), `the date is shown: ${c.text}`);
        });
        await s.step('a new vote appears without reloading', async () => {
          assert.equal(
              await election.castVote(election.takeVoter(), openB.law_id, 'oui'), 'accepted');
          const c = await waitCard(s.page, openB.law_id, (x) => x.total === '2', 20000);
          assert.equal(c.oui, '1');
          assert.ok(c.text.includes('1 vote (50.0%)'));
        });
        await s.step('same numbers in French', async () => {
          await s.page.locator('.lang-toggle').click();
          const c = await card(s.page, openA.law_id);
          assert.ok(c.text.includes('3 votes (75,0 %)'), `French percentage: ${c.text}`);
          assert.ok(c.text.includes('Votes comptés : 4'));
        });
      } finally {
        await s.close();
      }
    });

test('results page on a phone-width screen', {timeout: 60000}, async () => {
  const s = await openSession(browser, outputDir(), 'results phone', {
    viewport: {width: 360, height: 740},
    isMobile: true,
    hasTouch: true,
  });
  try {
    await s.step('no horizontal scrolling at 360 px', async () => {
      await s.page.goto(election.baseUrl + '/results.html');
      await s.page.locator('.result-card[data-state="ok"]').first().waitFor();
      const overflow = await s.page.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
    });
    await s.step('vote page fits too', async () => {
      await s.page.goto(election.baseUrl + '/');
      await s.page.locator(`#law-${election.laws.openA.law_id}`).waitFor();
      const overflow = await s.page.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
    });
  } finally {
    await s.close();
  }
});
