// How the vote page explains failures, with real answers from a real `scrutin serve`: the
// server going away mid-vote and coming back, 400 field errors (the browser's request is altered
// on its way out, since the form itself never sends a malformed one), and a 413 body too large.
'use strict';

const assert = require('node:assert/strict');
const {after, before, test} = require('node:test');

const {startElection, outputDir} = require('./support/election.js');
const {STRINGS, launchBrowser, openSession} = require('./support/browser.js');

let election;
let browser;

before(async () => {
  election = await startElection('errors');
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (election) {
    const code = await election.close();
    assert.equal(code, 0, `scrutin serve exited ${code} on SIGTERM`);
  }
});

async function fillAndReview(page, {lawId, nas, code, vote}) {
  await page.locator(`label[for="law-${lawId}"]`).click();
  await page.locator('#nas').pressSequentially(nas);
  await page.locator('#code').pressSequentially(code);
  await page.locator(`input[name="vote"][value="${vote}"]`).check();
  await page.locator('#continue').click();
  await page.locator('#review-heading').waitFor();
}

async function finalOutcome(page) {
  await page.waitForFunction(() => {
    const k = document.querySelector('#outcome-live')?.dataset.outcome;
    return k && !['sending', 'pending', 'reconnecting'].includes(k);
  }, null, {timeout: 20000});
  return {
    kind: await page.locator('#outcome-live').getAttribute('data-outcome'),
    text: await page.locator('#outcome-live').innerText(),
  };
}

// Rewrites the body of the page's next POST /api/v1/vote before it reaches the server.
async function alterNextVote(page, rewrite) {
  let done = false;
  await page.route('**/api/v1/vote', async (route) => {
    const request = route.request();
    if (done || request.method() !== 'POST') return route.continue();
    done = true;
    return route.continue({postData: rewrite(JSON.parse(request.postData()))});
  });
}

test('server unreachable mid-vote, then back: retry succeeds', {timeout: 90000}, async () => {
  const s = await openSession(browser, outputDir(), 'errors network', {locale: 'en-CA'});
  const voter = election.takeVoter();
  const law = election.laws.openA;
  try {
    await s.step('review a vote', async () => {
      await s.page.goto(election.baseUrl + '/');
      await s.page.locator(`#law-${law.law_id}`).waitFor();
      await fillAndReview(
          s.page, {lawId: law.law_id, nas: voter.nas, code: voter.code, vote: 'oui'});
    });
    await s.step('server stops; confirming reports a network failure', async () => {
      assert.equal(await election.stop(), 0);
      await s.page.locator('#confirm').click();
      const o = await finalOutcome(s.page);
      assert.equal(o.kind, 'network', `outcome was ${o.kind}: ${o.text}`);
      assert.ok(o.text.includes(STRINGS.en['outcome.network.h']));
      assert.equal(await s.page.locator('#nas').inputValue(), '', 'NAS cleared even on failure');
    });
    await s.step('server back; retry with the credential typed again', async () => {
      await election.start({keepPort: true});
      await s.page.getByRole('button', {name: STRINGS.en['outcome.retry']}).click();
      assert.ok(await s.page.locator('#reenter-notice').isVisible());
      await s.page.locator('#nas').pressSequentially(voter.nas);
      await s.page.locator('#code').pressSequentially(voter.code);
      await s.page.locator('#continue').click();
      await s.page.locator('#confirm').click();
      const o = await finalOutcome(s.page);
      assert.equal(o.kind, 'accepted', `outcome was ${o.kind}: ${o.text}`);
    });
  } finally {
    await s.close();
  }
});

test('400 field errors from the server appear next to their fields', {timeout: 60000}, async () => {
  const s = await openSession(browser, outputDir(), 'errors field', {locale: 'fr-CA'});
  const voter = election.takeVoter();
  try {
    await s.step('a request naming an unknown law and an unknown field', async () => {
      await s.page.goto(election.baseUrl + '/');
      await s.page.locator(`#law-${election.laws.openB.law_id}`).waitFor();
      await fillAndReview(s.page, {
        lawId: election.laws.openB.law_id,
        nas: voter.nas,
        code: voter.code,
        vote: 'non',
      });
      await alterNextVote(
          s.page, (b) => JSON.stringify(Object.assign(b, {law_id: 'L9999-999', extra: 'x'})));
      await s.page.locator('#confirm').click();
      await s.page.locator('#error-summary').waitFor();
    });
    await s.step('errors shown by field, credential to type again', async () => {
      assert.equal(
          await s.page.locator('#law-error').innerText(), STRINGS.fr['err.law.unknown_law']);
      const summary = await s.page.locator('#error-summary').innerText();
      assert.ok(summary.includes(STRINGS.fr['err.law.unknown_law']), summary);
      assert.ok(summary.includes(STRINGS.fr['err.unknown_field']), summary);
      assert.ok(await s.page.locator('#reenter-notice').isVisible());
      assert.equal(await s.page.locator('#nas').inputValue(), '');
      assert.equal(await s.page.locator('#code').inputValue(), '');
      assert.equal(await s.page.evaluate(() => document.activeElement.id), 'error-summary');
    });
  } finally {
    await s.close();
  }
});

test('413 body too large is explained', {timeout: 60000}, async () => {
  const s = await openSession(browser, outputDir(), 'errors too large', {locale: 'en-CA'});
  const voter = election.takeVoter();
  try {
    await s.step('a request over 4 KiB', async () => {
      await s.page.goto(election.baseUrl + '/');
      await s.page.locator(`#law-${election.laws.openA.law_id}`).waitFor();
      await fillAndReview(s.page, {
        lawId: election.laws.openA.law_id,
        nas: voter.nas,
        code: voter.code,
        vote: 'oui',
      });
      await alterNextVote(s.page, (b) => JSON.stringify(b) + ' '.repeat(8192));
      await s.page.locator('#confirm').click();
    });
    await s.step('request refused, nothing recorded', async () => {
      const o = await finalOutcome(s.page);
      // Some servers close the connection on an oversized body instead of answering 413: then
      // the browser sees a network failure. Both tell the voter the vote was not recorded.
      assert.ok(['refused', 'network'].includes(o.kind), `outcome was ${o.kind}: ${o.text}`);
      assert.equal(
          await election.castVote(voter, election.laws.openA.law_id, 'oui'), 'accepted',
          'the refused request did not use up the credential');
    });
  } finally {
    await s.close();
  }
});

// 429 and 503 cannot be provoked reliably from one browser against a real server (the rate limit
// and the writer's queue are far above what a page sends), so the page's next POST is answered by
// the browser itself with the status and Retry-After a loaded server sends; what is tested is the
// page: the outcome it shows, the retry button held back for Retry-After seconds with a countdown,
// and a retry that then reaches the real server and is accepted.
for (const {status, kind, retryAfter} of [
  {status: 503, kind: 'unavailable', retryAfter: 3},
  {status: 429, kind: 'busy', retryAfter: 2},
]) {
  test(`${status} shows "${kind}", holds the retry for Retry-After, then the retry is accepted`,
      {timeout: 60000}, async () => {
        const s = await openSession(browser, outputDir(), `errors ${status}`, {locale: 'en-CA'});
        const voter = election.takeVoter();
        const law = election.laws.openA;
        try {
          await s.step(`the vote is answered ${status} with Retry-After: ${retryAfter}`, async () => {
            await s.page.goto(election.baseUrl + '/');
            await s.page.locator(`#law-${law.law_id}`).waitFor();
            await fillAndReview(
                s.page, {lawId: law.law_id, nas: voter.nas, code: voter.code, vote: 'non'});
            let answered = false;
            await s.page.route('**/api/v1/vote', async (route) => {
              if (answered || route.request().method() !== 'POST') return route.continue();
              answered = true;
              const error = status === 429 ? 'rate_limited' : 'unavailable';
              return route.fulfill({
                status,
                headers: {'Retry-After': String(retryAfter), 'Content-Type': 'application/json'},
                body: JSON.stringify({error, message: 'Try again shortly.'}),
              });
            });
            await s.page.locator('#confirm').click();
            const o = await finalOutcome(s.page);
            assert.equal(o.kind, kind, `outcome was ${o.kind}: ${o.text}`);
            assert.ok(o.text.includes(STRINGS.en[`outcome.${kind}.h`]), o.text);
          });
          const retry = s.page.getByRole('button', {name: STRINGS.en['outcome.retry']});
          await s.step('the retry button waits for Retry-After, with a countdown', async () => {
            assert.equal(await retry.isDisabled(), true, 'retry allowed before Retry-After');
            const note = await s.page.locator('.countdown').innerText();
            assert.match(note, /\d/, `countdown shows no seconds: ${note}`);
            const shown = Date.now();
            while (await retry.isDisabled()) {
              assert.ok(Date.now() - shown < (retryAfter + 3) * 1000,
                  'retry still held long after Retry-After');
              await s.page.waitForTimeout(100);
            }
            // Held for Retry-After (less the time between the answer and `shown`, and rounding).
            assert.ok(Date.now() - shown >= (retryAfter - 1) * 1000,
                `retry allowed after ${Date.now() - shown} ms, Retry-After was ${retryAfter} s`);
          });
          await s.step('the retry reaches the server and is accepted', async () => {
            await retry.click();
            await s.page.locator('#nas').pressSequentially(voter.nas);
            await s.page.locator('#code').pressSequentially(voter.code);
            await s.page.locator('#continue').click();
            await s.page.locator('#confirm').click();
            const o = await finalOutcome(s.page);
            assert.equal(o.kind, 'accepted', `outcome was ${o.kind}: ${o.text}`);
          });
        } finally {
          await s.close();
        }
      });
}
