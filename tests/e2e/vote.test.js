// The vote page against a real `scrutin serve`: a full vote to `accepted` with a receipt, the
// duplicate message, the form blocking a bad NAS without sending anything, an unregistered
// credential, a keyboard-only vote, and a poll that closed.
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
  visibleText,
} = require('./support/browser.js');

// Switches the page's language with its toggle and checks nothing of the other one remains.
async function switchLanguage(page, to) {
  await page.locator('.lang-toggle').click();
  await page.waitForFunction((l) => document.documentElement.lang === l, to);
  await assertOnlyLanguage(page, to);
}

let election;
let browser;

before(async () => {
  election = await startElection('vote');
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (election) {
    const code = await election.close();
    assert.equal(code, 0, `scrutin serve exited ${code} on SIGTERM`);
  }
});

// Opens the vote page and waits until the laws from GET /api/v1/laws are listed.
async function openVotePage(s) {
  await s.page.goto(election.baseUrl + '/');
  await s.page.locator(`#law-${election.laws.openA.law_id}`).waitFor();
}

// Fills the form with the mouse and keyboard as a voter would.
async function fillForm(page, {lawId, nas, code, vote}) {
  await page.locator(`label[for="law-${lawId}"]`).click();
  await page.locator('#nas').fill('');
  await page.locator('#nas').pressSequentially(nas);
  await page.locator('#code').fill('');
  await page.locator('#code').pressSequentially(code);
  await page.locator(`input[name="vote"][value="${vote}"]`).check();
}

async function outcome(page) {
  const live = page.locator('#outcome-live');
  await page.waitForFunction(() => {
    const k = document.querySelector('#outcome-live')?.dataset.outcome;
    return k && !['sending', 'pending', 'reconnecting'].includes(k);
  }, null, {timeout: 20000});
  return {kind: await live.getAttribute('data-outcome'), text: await live.innerText()};
}

// What the browser keeps: only the language may be stored, nothing in the URL or cookies.
async function assertNothingStored(page, voter) {
  const stored = await page.evaluate(() => ({
                                       local: Object.keys(localStorage),
                                       session: sessionStorage.length,
                                       cookies: document.cookie,
                                       url: location.href,
                                     }));
  assert.deepEqual(stored.local.filter((k) => k !== 'scrutin.lang'), [], 'localStorage keys');
  assert.equal(stored.session, 0, 'sessionStorage must stay empty');
  assert.equal(stored.cookies, '', 'no cookie');
  for (const secret
           of [voter.nas, voter.code, voter.nas.slice(0, 3) + ' ' + voter.nas.slice(3, 6)]) {
    assert.ok(!stored.url.includes(secret), 'the URL must not carry the NAS or code');
  }
  const text = await visibleText(page);
  const inputs = await page.evaluate(
      () => Array.from(document.querySelectorAll('input')).map((i) => i.value).join(' '));
  for (const secret
           of [voter.nas, voter.code, voter.nas.replace(/(\d{3})(\d{3})(\d{3})/, '$1 $2 $3')]) {
    assert.ok(!text.includes(secret), 'the page text must not show the NAS or code');
    assert.ok(!inputs.includes(secret), 'no input may still hold the NAS or code');
  }
}

test('full vote flow ends accepted with a receipt', {timeout: 90000}, async () => {
  const s = await openSession(browser, outputDir(), 'vote accepted', {locale: 'en-CA'});
  const voter = election.takeVoter();
  const law = election.laws.openA;
  const posts = [];
  s.page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/api/v1/vote')) posts.push(r);
  });
  try {
    await s.step('open the vote page', async () => {
      await openVotePage(s);
      assert.equal(await s.page.locator('h1').innerText(), STRINGS.en['vote.h1']);
      const option = await s.page.locator(`#law-${law.law_id}`).locator('..').innerText();
      assert.ok(option.includes(law.title_en), 'the law picker shows the English title');
      assert.ok(option.includes(STRINGS.en['law.state.open']), 'the open state is shown');
    });
    await s.step('fill the ballot (masks apply)', async () => {
      await fillForm(
          s.page, {lawId: law.law_id, nas: voter.nas, code: voter.code.toLowerCase(), vote: 'oui'});
      const shownNas = await s.page.locator('#nas').inputValue();
      assert.equal(
          shownNas, voter.nas.replace(/(\d{3})(\d{3})(\d{3})/, '$1 $2 $3'), 'NAS mask 000 000 000');
      assert.equal(
          await s.page.locator('#code').inputValue(), voter.code.toUpperCase(), 'code upper-cased');
    });
    await s.step('review the choice', async () => {
      await s.page.locator('#continue').click();
      const heading = s.page.locator('#review-heading');
      await heading.waitFor();
      assert.equal(await heading.innerText(), `You are voting OUI on ${law.law_id} — confirm`);
      assert.equal(await s.page.locator('#review-title').innerText(), law.title_en);
      assert.equal(posts.length, 0, 'nothing is sent before confirmation');
    });
    await s.step('confirm and see the receipt', async () => {
      await s.page.locator('#confirm').click();
      const o = await outcome(s.page);
      assert.equal(o.kind, 'accepted', `outcome was ${o.kind}: ${o.text}`);
      assert.ok(o.text.includes(STRINGS.en['outcome.accepted.h']));
      const receipt = (await s.page.locator('#receipt code').innerText()).trim();
      assert.match(receipt, /^[A-Za-z0-9-]{8,}$/, 'a receipt id to keep');
      assert.equal(posts.length, 1, 'exactly one POST /api/v1/vote');
      const body = JSON.parse(posts[0].postData());
      assert.deepEqual(Object.keys(body).sort(), ['code', 'law_id', 'nas', 'vote']);
      assert.equal(body.law_id, law.law_id);
      assert.equal(body.vote, 'oui');
    });
    await s.step('NAS and code are gone from the page and the browser', async () => {
      await assertNothingStored(s.page, voter);
    });
  } finally {
    await s.close();
  }
});

test(
    'the same credential again is a duplicate with attempt count 2', {timeout: 90000}, async () => {
      const s = await openSession(browser, outputDir(), 'vote duplicate');
      const voter = election.takeVoter();
      const law = election.laws.openB;
      try {
        await s.step('first vote is accepted', async () => {
          await openVotePage(s);
          await fillForm(
              s.page, {lawId: law.law_id, nas: voter.nas, code: voter.code, vote: 'non'});
          await s.page.locator('#continue').click();
          await s.page.locator('#confirm').click();
          const o = await outcome(s.page);
          assert.equal(o.kind, 'accepted', `first outcome was ${o.kind}: ${o.text}`);
        });
        await s.step('vote again on the same law', async () => {
          await s.page.getByRole('button', {name: STRINGS.fr['outcome.another']}).click();
          assert.equal(await s.page.locator('#nas').inputValue(), '', 'the form starts empty');
          await fillForm(
              s.page, {lawId: law.law_id, nas: voter.nas, code: voter.code, vote: 'oui'});
          await s.page.locator('#continue').click();
          await s.page.locator('#confirm').click();
        });
        await s.step('duplicate message with the attempt count', async () => {
          const o = await outcome(s.page);
          assert.equal(o.kind, 'duplicate', `second outcome was ${o.kind}: ${o.text}`);
          assert.ok(o.text.includes(STRINGS.fr['outcome.duplicate.h']));
          assert.equal(await s.page.locator('#attempt-count').innerText(), '2');
          assert.ok(
              o.text.includes('seul le premier vote compte'), 'says what the duplicate means');
          await assertNothingStored(s.page, voter);
        });
        await s.step('duplicate message in English', async () => {
          await switchLanguage(s.page, 'en');
          assert.ok((await s.page.innerText('#outcome-live'))
                        .includes(STRINGS.en['outcome.duplicate.h']));
          assert.equal(await s.page.locator('#attempt-count').innerText(), '2');
        });
      } finally {
        await s.close();
      }
    });

test('a NAS with a bad check digit is blocked in the form', {timeout: 60000}, async () => {
  const s = await openSession(browser, outputDir(), 'vote bad nas');
  const voter = election.takeVoter();
  const last = Number(voter.nas[8]);
  const badNas = voter.nas.slice(0, 8) + String((last + 1) % 10);
  const requests = [];
  s.page.on('request', (r) => {
    if (r.url().includes('/api/v1/vote')) requests.push(r.method() + ' ' + r.url());
  });
  try {
    await s.step('type a NAS whose check digit is wrong', async () => {
      await openVotePage(s);
      await fillForm(
          s.page, {lawId: election.laws.openA.law_id, nas: badNas, code: voter.code, vote: 'oui'});
      await s.page.locator('#code').focus();  // Leaving the NAS field checks it.
      const error = s.page.locator('#nas-error');
      await error.waitFor();
      assert.equal(await error.innerText(), STRINGS.fr['err.nas.checksum']);
      assert.equal(await s.page.locator('#nas').getAttribute('aria-invalid'), 'true');
    });
    await s.step('continuing is refused with an error summary', async () => {
      await s.page.locator('#continue').click();
      const summary = s.page.locator('#error-summary');
      await summary.waitFor();
      assert.ok((await summary.innerText()).includes(STRINGS.fr['err.nas.checksum']));
      assert.ok(await s.page.locator('#step-review').isHidden(), 'no review step');
      assert.equal(await s.page.evaluate(() => document.activeElement.id), 'error-summary');
    });
    await s.step('too few digits is a format error', async () => {
      await s.page.locator('#nas').fill('12345678');
      await s.page.locator('#continue').click();
      assert.equal(await s.page.locator('#nas-error').innerText(), STRINGS.fr['err.nas.format']);
    });
    await s.step('errors in English', async () => {
      await switchLanguage(s.page, 'en');
      assert.equal(await s.page.locator('#nas-error').innerText(), STRINGS.en['err.nas.format']);
    });
    await s.step('no request was sent', async () => {
      await s.page.waitForTimeout(300);
      assert.deepEqual(requests, []);
    });
  } finally {
    await s.close();
  }
});

test('an unregistered credential is reported invalid', {timeout: 60000}, async () => {
  const s = await openSession(browser, outputDir(), 'vote invalid', {locale: 'en-US'});
  const cred = election.unregisteredCredential();
  try {
    await s.step('vote with a NAS nobody registered', async () => {
      await openVotePage(s);
      await fillForm(
          s.page, {lawId: election.laws.openA.law_id, nas: cred.nas, code: cred.code, vote: 'non'});
      await s.page.locator('#continue').click();
      await s.page.locator('#confirm').click();
    });
    await s.step('invalid credential message', async () => {
      const o = await outcome(s.page);
      assert.equal(o.kind, 'invalid', `outcome was ${o.kind}: ${o.text}`);
      assert.ok(o.text.includes(STRINGS.en['outcome.invalid.h']));
      assert.ok(o.text.includes('No vote was counted'));
    });
    await s.step('try again returns to an emptied form', async () => {
      await s.page.getByRole('button', {name: STRINGS.en['outcome.retry']}).click();
      assert.ok(await s.page.locator('#reenter-notice').isVisible());
      assert.equal(await s.page.locator('#nas').inputValue(), '');
      assert.equal(await s.page.locator('#code').inputValue(), '');
      const checked = await s.page.locator('input[name="law"]:checked').getAttribute('value');
      assert.equal(checked, election.laws.openA.law_id, 'the law choice is kept');
    });
  } finally {
    await s.close();
  }
});

test('a vote using only the keyboard (Tab, Space, Enter)', {timeout: 90000}, async () => {
  const s = await openSession(browser, outputDir(), 'vote keyboard');
  const voter = election.takeVoter();
  const law = election.laws.openA;  // First in the list: reachable with Tab and Space only.
  const kb = s.page.keyboard;
  try {
    await s.step('open the page', async () => {
      await openVotePage(s);
    });
    await s.step('skip link comes first', async () => {
      await kb.press('Tab');
      assert.equal(await s.page.evaluate(() => document.activeElement.className), 'skip-link');
    });
    await s.step('choose the law with Space', async () => {
      await tabTo(s.page, `#law-${law.law_id}`);
      await kb.press('Space');
      assert.ok(await s.page.locator(`#law-${law.law_id}`).isChecked());
    });
    await s.step('type NAS and code', async () => {
      await tabTo(s.page, '#nas');
      await kb.type(voter.nas);
      await tabTo(s.page, '#code');
      await kb.type(voter.code.toLowerCase());
    });
    await s.step('choose OUI with Space', async () => {
      await tabTo(s.page, 'input[name="vote"][value="oui"]');
      await kb.press('Space');
      assert.ok(await s.page.locator('input[name="vote"][value="oui"]').isChecked());
    });
    await s.step('continue with Enter', async () => {
      await tabTo(s.page, '#continue');
      await kb.press('Enter');
      await s.page.locator('#review-heading').waitFor();
      assert.equal(
          await s.page.evaluate(() => document.activeElement.id), 'review-heading',
          'focus moves to the review');
    });
    await s.step('confirm with Enter', async () => {
      await tabTo(s.page, '#confirm');
      await kb.press('Enter');
      const o = await outcome(s.page);
      assert.equal(o.kind, 'accepted', `outcome was ${o.kind}: ${o.text}`);
    });
    await s.step('next actions are reachable by keyboard', async () => {
      await tabTo(s.page, '#outcome-actions button');
    });
  } finally {
    await s.close();
  }
});

test('a vote after the poll closed gets the poll closed message', {timeout: 90000}, async () => {
  const law = election.laws.closed;
  const voter = election.takeVoter();
  const before = await election.results(law.law_id);

  const fresh = await openSession(browser, outputDir(), 'vote closed law listed');
  try {
    await fresh.step('the closed law cannot be chosen', async () => {
      await openVotePage(fresh);
      const radio = fresh.page.locator(`#law-${law.law_id}`);
      assert.ok(await radio.isDisabled(), 'closed law radio is disabled');
      const meta = await fresh.page.locator(`#law-${law.law_id}-meta`).innerText();
      assert.ok(meta.includes(STRINGS.fr['law.state.closed']), 'shows Fermé');
    });
  } finally {
    await fresh.close();
  }

  // A page opened while the poll was open and submitted after it closed: the browser's clock
  // still says "open", the server is the judge.
  const s = await openSession(browser, outputDir(), 'vote poll closed');
  try {
    await s.step('page loaded while the poll was open', async () => {
      await s.page.clock.setFixedTime(new Date(Date.parse(law.opens_at) + 60000));
      await openVotePage(s);
      assert.ok(await s.page.locator(`#law-${law.law_id}`).isEnabled());
    });
    await s.step('submit after the close', async () => {
      await fillForm(s.page, {lawId: law.law_id, nas: voter.nas, code: voter.code, vote: 'oui'});
      await s.page.locator('#continue').click();
      await s.page.locator('#confirm').click();
    });
    await s.step('poll closed message', async () => {
      const o = await outcome(s.page);
      assert.equal(o.kind, 'closed', `outcome was ${o.kind}: ${o.text}`);
      assert.ok(o.text.includes(STRINGS.fr['outcome.closed.h']));
      assert.ok(o.text.includes('n’a pas été enregistré'), 'says the vote was not recorded');
    });
    await s.step('poll closed message in English', async () => {
      await switchLanguage(s.page, 'en');
      assert.ok((await s.page.innerText('#outcome-live')).includes(STRINGS.en['outcome.closed.h']));
    });
    await s.step('nothing was counted', async () => {
      const afterResults = await election.results(law.law_id);
      assert.equal(afterResults.status, before.status);
      if (before.status === 200) assert.equal(afterResults.body.total, before.body.total);
    });
  } finally {
    await s.close();
  }
});
