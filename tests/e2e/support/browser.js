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

let AXE_SOURCE;
try {
  AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
} catch (e) {
  throw new Error('axe-core is not installed: run scripts/e2e-deps (npm install in tests/e2e)');
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
// a named step, then checks the page as it stands (no JavaScript error, assertAccessible, and
// with {axe: true} axe-core's WCAG A/AA rules) and takes a screenshot; on failure it throws an
// error that starts with the step's name and saves a FAILED screenshot.
async function openSession(browser, outputDir, testName, contextOptions = {}, {axe = false} = {}) {
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
    const t0 = Date.now();
    try {
      const value = await fn();
      if (pageErrors.length)
        throw new Error('JavaScript error in the page: ' + pageErrors.join('; '));
      if (page.url().startsWith('http')) {
        await assertAccessible(page);
        if (axe) await assertAxe(page);
      }
      await screenshot(name);
      // E2E_TIMING=1 prints each step's duration (to keep the suite fast).
      if (process.env.E2E_TIMING) console.error(`# ${Date.now() - t0} ms ${testName}: ${name}`);
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

// Basic WCAG AA checks on what is rendered now: every visible text meets its contrast ratio
// against the background it sits on (4.5:1, or 3:1 for large text), every visible form control
// has a label, radio groups have a legend, and there is exactly one <h1>. Disabled controls are
// exempt from contrast, as WCAG allows.
async function assertAccessible(page) {
  const problems = await page.evaluate(() => {
    const out = [];
    const parse = (c) => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return {r, g, b, a};
    };
    const lum = ({r, g, b}) => {
      const f = (v) => {
        v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c && c.a > 0.5) return c;
      }
      return {r: 255, g: 255, b: 255, a: 1};
    };
    const visible = (el) => {
      const r = el.getBoundingClientRect();
      const cs = getComputedStyle(el);
      return r.width > 1 && r.height > 1 && cs.visibility !== 'hidden' && cs.opacity !== '0';
    };
    for (const el of document.body.querySelectorAll('*')) {
      const hasText = Array.from(el.childNodes)
                          .some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
      if (!hasText || !visible(el) || el.closest('[disabled], .is-disabled')) continue;
      if (el.closest('.visually-hidden')) continue;
      const cs = getComputedStyle(el);
      const fg = parse(cs.color);
      const bg = background(el);
      const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      const size = parseFloat(cs.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) {
        out.push(`contrast ${ratio.toFixed(2)} for "${el.textContent.trim().slice(0, 40)}"`);
      }
    }
    for (const input of document.querySelectorAll('input, select, textarea, button')) {
      if (!visible(input) && input.type !== 'radio') continue;
      const named = input.labels?.length || input.getAttribute('aria-label') ||
          input.getAttribute('aria-labelledby') ||
          (input.tagName === 'BUTTON' && input.textContent.trim());
      if (!named) out.push(`unlabelled control ${input.outerHTML.slice(0, 60)}`);
      if (input.type === 'radio' && !input.closest('fieldset')?.querySelector('legend')) {
        out.push(`radio ${input.value} outside a fieldset with a legend`);
      }
    }
    const h1 = document.querySelectorAll('h1').length;
    if (h1 !== 1) out.push(`${h1} <h1> elements`);
    return out;
  });
  if (problems.length) throw new Error('accessibility: ' + problems.join('; '));
}

// axe-core's WCAG 2.0/2.1/2.2 A and AA rules on the page as it stands (injected on first use in
// each document). Fails listing each violated rule with the elements it found.
async function assertAxe(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) {
    await page.addScriptTag({content: AXE_SOURCE});
  }
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: {
        type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'],
      },
      resultTypes: ['violations'],
    });
    return result.violations.map(
        (v) => `${v.id} (${v.impact}): ${v.help} at ` +
            v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', '));
  });
  if (violations.length) throw new Error('axe-core WCAG A/AA: ' + violations.join('; '));
}

function ensureDir(dir) {
  fs.mkdirSync(dir, {recursive: true});
  return dir;
}

module.exports = {
  assertAccessible,
  assertAxe,
  STRINGS,
  launchBrowser,
  openSession,
  tabTo,
  visibleText,
  assertOnlyLanguage,
  containsPhrase,
  ensureDir,
};
