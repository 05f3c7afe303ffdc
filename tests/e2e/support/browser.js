// Browser side of the e2e suite: Debian's chromium driven by playwright-core, named steps that
// screenshot the page and say which step failed, keyboard helpers and the language checks.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

let chromium;
try {
  ({chromium} = require('playwright-core'));
} catch (e) {
  throw new Error(
      'playwright-core is not installed: run scripts/e2e-deps (npm install in tests/e2e)');
}

const STRINGS = require('../../../web/i18n.js');

const CHROMIUM = process.env.SCRUTIN_CHROMIUM || '/usr/bin/chromium';

function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

function slug(s) {
  return s.toLowerCase().normalize('NFD').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

// One browser context (own storage, cookies, language) and page per test. `session.step()` runs
// a named step: a screenshot after it (the page as the user saw it), and on failure an error
// that starts with the step's name, plus a FAILED screenshot.
async function openSession(browser, outputDir, testName, contextOptions = {}) {
  const context = await browser.newContext(Object.assign(
      {
        viewport: {width: 1024, height: 800},
        locale: 'fr-CA',
        timezoneId: 'America/Toronto',
      },
      contextOptions));
  const page = await context.newPage();
  page.setDefaultTimeout(10000);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  let counter = 0;
  const prefix = slug(testName);
  // Screenshots of an earlier run of this test would mix with this run's.
  for (const f of fs.readdirSync(outputDir)) {
    if (f.startsWith(prefix + '-') && /^\d\d-/.test(f.slice(prefix.length + 1)) &&
        f.endsWith('.png')) {
      fs.rmSync(path.join(outputDir, f), {force: true});
    }
  }

  async function screenshot(label) {
    counter++;
    const file =
        path.join(outputDir, `${prefix}-${String(counter).padStart(2, '0')}-${slug(label)}.png`);
    await page.screenshot({path: file, fullPage: true});
    return file;
  }

  async function step(name, fn) {
    try {
      const value = await fn();
      if (pageErrors.length)
        throw new Error('JavaScript error in the page: ' + pageErrors.join('; '));
      await screenshot(name);
      return value;
    } catch (e) {
      await screenshot('FAILED ' + name).catch(() => {});
      const err = new Error(`[${testName}] step "${name}" failed: ${e.message}`);
      err.cause = e;
      throw err;
    }
  }

  return {context, page, step, screenshot, close: () => context.close()};
}

// Presses Tab (at most `max` times) until the focused element matches `selector`. Fails if it
// never gets there, or if an element reached on the way has no visible focus indicator.
async function tabTo(page, selector, max = 40) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const state = await page.evaluate((sel) => {
      const el = document.activeElement;
      if (!el || el === document.body) return {matches: false, visible: true, what: 'body'};
      const cs = getComputedStyle(el);
      // The radios' indicator is drawn on their option box by :has(:focus-visible).
      const box = el.closest('.option') ? getComputedStyle(el.closest('.option')) : null;
      const ring = (s) => s &&
          ((s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) ||
           s.boxShadow !== 'none' || s.backgroundColor === 'rgb(255, 191, 71)');
      return {
        matches: el.matches(sel),
        visible: ring(cs) || ring(box),
        what: el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
            (el.textContent ? ` "${el.textContent.trim().slice(0, 30)}"` : ''),
      };
    }, selector);
    if (!state.visible) throw new Error(`focus on ${state.what} is not visible`);
    if (state.matches) return;
  }
  throw new Error(`${selector} not reached after ${max} Tab presses`);
}

// Everything a sighted user reads: the title and the rendered text of the page.
function visibleText(page) {
  return page.evaluate(() => document.title + '\n' + document.body.innerText);
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function containsPhrase(text, phrase) {
  return new RegExp(`(^|[^\\p{L}\\p{N}])${escapeRe(phrase)}($|[^\\p{L}\\p{N}])`, 'u').test(text);
}

// Fails if any string of the other language is on screen, or if a translated element does not
// show its string in `lang`. Strings are compared by their fixed parts (placeholders removed);
// the language toggle, which names the other language on purpose, is exempt. `extraForbidden`
// adds page data of the other language (e.g. law titles).
async function assertOnlyLanguage(page, lang, extraForbidden = []) {
  const other = lang === 'fr' ? 'en' : 'fr';
  const text = await visibleText(page);
  const mine = Object.values(STRINGS[lang]);
  const offenders = [];
  for (const [key, value] of Object.entries(STRINGS[other])) {
    if (key.startsWith('lang.switch') || value === STRINGS[lang][key]) continue;
    for (const part of value.split(/\{\w+\}/).map((s) => s.trim())) {
      if (part.length < 3) continue;
      if (mine.some((m) => containsPhrase(m, part))) continue;  // Shared words (e.g. "OUI").
      if (containsPhrase(text, part)) offenders.push(`${key}: "${part}"`);
    }
  }
  for (const phrase of extraForbidden) {
    if (containsPhrase(text, phrase)) offenders.push(`data: "${phrase}"`);
  }
  if (offenders.length) {
    throw new Error(`page in ${lang} still shows ${other} text: ${offenders.join(', ')}`);
  }
  const wrong = await page.evaluate(({table}) => {
    const bad = [];
    for (const el of document.querySelectorAll('[data-i18n]')) {
      if (!el.offsetParent && el.tagName !== 'TITLE') continue;  // Not rendered.
      if (el.textContent !== table[el.dataset.i18n]) bad.push(el.dataset.i18n);
    }
    return bad;
  }, {table: STRINGS[lang]});
  if (wrong.length) throw new Error(`elements not translated to ${lang}: ${wrong.join(', ')}`);
  const htmlLang = await page.evaluate(() => document.documentElement.lang);
  if (htmlLang !== lang) throw new Error(`<html lang="${htmlLang}">, want ${lang}`);
}

function ensureDir(dir) {
  fs.mkdirSync(dir, {recursive: true});
  return dir;
}

module.exports = {
  STRINGS,
  launchBrowser,
  openSession,
  tabTo,
  visibleText,
  assertOnlyLanguage,
  containsPhrase,
  ensureDir,
};
