// French and English against a real `scrutin serve`: the browser's language picks the default,
// the toggle switches every visible string on every page and step (no string of the other
// language left, law titles included), and only the language choice is remembered.
'use strict';

const assert = require('node:assert/strict');
const {after, before, test} = require('node:test');

const {startElection, outputDir} = require('./support/election.js');
const {STRINGS, launchBrowser, openSession, assertOnlyLanguage} = require('./support/browser.js');

let election;
let browser;

before(async () => {
  election = await startElection('language');
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (election) {
    const code = await election.close();
    assert.equal(code, 0, `scrutin serve exited ${code} on SIGTERM`);
  }
});

function titles(lang) {
  return Object.values(election.laws).map((l) => (lang === 'fr' ? l.title_fr : l.title_en));
}

// Checks the page shows only `lang`, including the law titles that come from the API.
async function assertLanguage(page, lang) {
  const other = lang === 'fr' ? 'en' : 'fr';
  await assertOnlyLanguage(page, lang, titles(other));
}

async function toggle(page, to) {
  await page.locator('.lang-toggle').click();
  await page.waitForFunction((l) => document.documentElement.lang === l, to);
}

test('default language follows the browser', {timeout: 60000}, async () => {
  for (const [locale, lang] of [['en-GB', 'en'], ['fr-FR', 'fr'], ['de-DE', 'fr']]) {
    const s = await openSession(browser, outputDir(), `language default ${locale}`, {locale});
    try {
      await s.step(`browser in ${locale} gets ${lang}`, async () => {
        await s.page.goto(election.baseUrl + '/');
        await s.page.locator(`#law-${election.laws.openA.law_id}`).waitFor();
        await assertLanguage(s.page, lang);
      });
    } finally {
      await s.close();
    }
  }
});

test('the toggle changes every visible string on every page', {timeout: 120000}, async () => {
  const s = await openSession(browser, outputDir(), 'language toggle', {locale: 'fr-CA'});
  const page = s.page;
  const voter = election.takeVoter();
  const law = election.laws.openA;
  try {
    await s.step('vote form in French', async () => {
      await page.goto(election.baseUrl + '/');
      await page.locator(`#law-${law.law_id}`).waitFor();
      await assertLanguage(page, 'fr');
      for (const t of titles('fr')) assert.ok((await page.innerText('body')).includes(t));
    });
    await s.step('vote form in English', async () => {
      await toggle(page, 'en');
      await assertLanguage(page, 'en');
      for (const t of titles('en')) assert.ok((await page.innerText('body')).includes(t));
    });
    await s.step('form errors in English, then French', async () => {
      await page.locator('#continue').click();
      await page.locator('#error-summary').waitFor();
      await assertLanguage(page, 'en');
      assert.ok((await page.innerText('#error-summary')).includes(STRINGS.en['err.nas.missing']));
      await toggle(page, 'fr');
      await assertLanguage(page, 'fr');
      assert.ok((await page.innerText('#error-summary')).includes(STRINGS.fr['err.nas.missing']));
    });
    await s.step('typed values survive a switch', async () => {
      await page.locator(`label[for="law-${law.law_id}"]`).click();
      await page.locator('#nas').pressSequentially(voter.nas);
      await page.locator('#code').pressSequentially(voter.code);
      await page.locator('input[name="vote"][value="non"]').check();
      await toggle(page, 'en');
      assert.equal((await page.locator('#nas').inputValue()).replace(/ /g, ''), voter.nas);
      assert.ok(await page.locator(`#law-${law.law_id}`).isChecked(), 'law still chosen');
      await assertLanguage(page, 'en');
    });
    await s.step('review step in both languages', async () => {
      await page.locator('#continue').click();
      await page.locator('#review-heading').waitFor();
      assert.equal(
          await page.innerText('#review-heading'), `You are voting NON on ${law.law_id} — confirm`);
      await assertLanguage(page, 'en');
      await toggle(page, 'fr');
      assert.equal(
          await page.innerText('#review-heading'), `Vous votez NON sur ${law.law_id} — confirmez`);
      assert.equal(await page.innerText('#review-title'), law.title_fr);
      await assertLanguage(page, 'fr');
    });
    await s.step('outcome in both languages', async () => {
      await page.locator('#confirm').click();
      await page.locator('#outcome-live[data-outcome="accepted"]').waitFor({timeout: 20000});
      await assertLanguage(page, 'fr');
      await toggle(page, 'en');
      await assertLanguage(page, 'en');
      assert.ok((await page.innerText('#outcome-live')).includes(STRINGS.en['outcome.accepted.h']));
    });
    await s.step('results page remembers English', async () => {
      await page.getByRole('link', {name: STRINGS.en['outcome.results']}).click();
      await page.locator('.result-card[data-state="ok"]').first().waitFor();
      await page.locator('.result-card[data-state="embargo"]').first().waitFor();
      await assertLanguage(page, 'en');
    });
    await s.step('results page in French', async () => {
      await toggle(page, 'fr');
      await assertLanguage(page, 'fr');
    });
    await s.step('only the language is stored', async () => {
      const stored = await page.evaluate(() => ({
                                           keys: Object.keys(localStorage),
                                           lang: localStorage.getItem('scrutin.lang'),
                                           session: sessionStorage.length,
                                           cookie: document.cookie,
                                         }));
      assert.deepEqual(stored, {keys: ['scrutin.lang'], lang: 'fr', session: 0, cookie: ''});
    });
  } finally {
    await s.close();
  }
});
