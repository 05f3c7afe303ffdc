// Shared by the vote and results pages: language choice and translation, calls to the scrutin
// API (/api/v1 on the same origin), locale-aware formatting and the SIN (NAS) checks.
//
// Privacy contract: nothing here writes to browser storage except the chosen language
// (localStorage key `scrutin.lang`). No function logs, stores or puts in a URL a NAS or a code.
(function(root) {
'use strict';

const STRINGS = root.ScrutinStrings;
const LANGS = ['fr', 'en'];
const LANG_KEY = 'scrutin.lang';
const LOCALES = {
  fr: 'fr-CA',
  en: 'en-CA'
};
const API_TIMEOUT_MS = 15000;

const listeners = [];
let lang = initialLang();

// The remembered choice if any, else the browser's preferred language, else French.
function initialLang() {
  try {
    const saved = root.localStorage.getItem(LANG_KEY);
    if (LANGS.includes(saved)) return saved;
  } catch (e) {
    // Storage disabled (private mode, policy): fall through to the browser language.
  }
  const prefs = root.navigator.languages && root.navigator.languages.length ?
      root.navigator.languages :
      [root.navigator.language || 'fr'];
  for (const pref of prefs) {
    const base = String(pref).toLowerCase().split('-')[0];
    if (LANGS.includes(base)) return base;
  }
  return 'fr';
}

function getLang() {
  return lang;
}

// Switches the language of the whole page and remembers it (the only thing ever stored).
function setLang(next) {
  if (!LANGS.includes(next) || next === lang) return;
  lang = next;
  try {
    root.localStorage.setItem(LANG_KEY, next);
  } catch (e) {
    // Not remembered; the page still switches.
  }
  applyStatic(document);
  for (const fn of listeners) fn(lang);
}

// Registers fn(lang), called after every language switch so pages re-render dynamic content.
function onLangChange(fn) {
  listeners.push(fn);
}

// The translated string for key with {placeholders} replaced by params (as text).
function t(key, params) {
  const table = STRINGS[lang];
  let text = table[key];
  if (text === undefined) {
    console.error('scrutin: missing string', key);
    text = key;
  }
  if (params) {
    text = text.replace(
        /\{(\w+)\}/g,
        (m, name) => Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : m);
  }
  return text;
}

// Like t(), but returns a DocumentFragment: a param that is a Node is inserted as is (for
// emphasis), anything else as text. Never parses HTML, so data from the API cannot inject markup.
function tNodes(key, params) {
  const frag = document.createDocumentFragment();
  const text = STRINGS[lang][key] !== undefined ? STRINGS[lang][key] : key;
  const re = /\{(\w+)\}/g;
  let last = 0;
  let m;
  while ((m = re.exec(text)) !== null) {
    frag.append(text.slice(last, m.index));
    const v = params && Object.prototype.hasOwnProperty.call(params, m[1]) ? params[m[1]] : m[0];
    frag.append(v instanceof Node ? v : String(v));
    last = re.lastIndex;
  }
  frag.append(text.slice(last));
  return frag;
}

// Translates the static markup: data-i18n="key" sets the text, data-i18n-attr="attr:key;..."
// sets attributes. Also sets <html lang> and the language toggle.
function applyStatic(scope) {
  document.documentElement.lang = lang;
  for (const el of scope.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of scope.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
  const title = document.querySelector('title[data-i18n-title]');
  if (title) document.title = t(title.dataset.i18nTitle);
  for (const btn of document.querySelectorAll('.lang-toggle')) {
    const other = lang === 'fr' ? 'en' : 'fr';
    btn.setAttribute('lang', other);
    btn.dataset.target = other;
  }
}

function element(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class')
        el.className = v;
      else if (k === 'text')
        el.textContent = v;
      else
        el.setAttribute(k, v === true ? '' : v);
    }
  }
  for (const c of children) {
    if (c !== undefined && c !== null && c !== false) el.append(c);
  }
  return el;
}

// Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), clamped to [1, 3600];
// fallback when the header is absent or unreadable.
function retryAfterSeconds(headers, fallback) {
  const raw = headers && headers.get('Retry-After');
  let s = NaN;
  if (raw) {
    if (/^\s*\d+\s*$/.test(raw)) {
      s = parseInt(raw, 10);
    } else {
      const at = Date.parse(raw);
      if (!Number.isNaN(at)) s = Math.ceil((at - Date.now()) / 1000);
    }
  }
  if (!Number.isFinite(s)) s = fallback;
  return Math.min(3600, Math.max(1, s));
}

// Calls the API. Resolves to {status, body, headers} for any HTTP answer (body is the parsed
// JSON or null); rejects with an Error whose `network` is true when no answer arrived.
async function api(path, options) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), API_TIMEOUT_MS);
  const init = Object.assign(
      {headers: {Accept: 'application/json'}, cache: 'no-store', credentials: 'omit'},
      options || {}, {signal: controller.signal});
  if (init.json !== undefined) {
    init.method = init.method || 'POST';
    init.headers = Object.assign({}, init.headers, {'Content-Type': 'application/json'});
    init.body = JSON.stringify(init.json);
    delete init.json;
  }
  let response;
  try {
    response = await fetch('/api/v1' + path, init);
  } catch (e) {
    const err = new Error('network');
    err.network = true;
    throw err;
  } finally {
    clearTimeout(timer);
  }
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  return {status: response.status, body, headers: response.headers};
}

// GET /api/v1/laws, validated: resolves to a clean array of laws or rejects.
async function fetchLaws() {
  const res = await api('/laws');
  if (res.status !== 200 || !Array.isArray(res.body)) {
    const err = new Error('laws: HTTP ' + res.status);
    err.response = res;
    throw err;
  }
  return res.body.filter((l) => l && typeof l.law_id === 'string')
      .map((l) => ({
             law_id: l.law_id,
             title: l.title && typeof l.title === 'object' ? l.title : {},
             opens_at: l.opens_at,
             closes_at: l.closes_at,
             results: l.results === 'after_close' ? 'after_close' : 'live',
           }));
}

function lawTitle(law) {
  if (!law || !law.title) return '';
  return law.title[lang] || law.title[lang === 'fr' ? 'en' : 'fr'] || '';
}

// 'open' | 'closed' | 'upcoming' by this device's clock; the server has the last word.
function lawState(law, now) {
  const t0 = Date.parse(law.opens_at);
  const t1 = Date.parse(law.closes_at);
  const n = now === undefined ? Date.now() : now;
  if (!Number.isNaN(t0) && n < t0) return 'upcoming';
  if (!Number.isNaN(t1) && n >= t1) return 'closed';
  return 'open';
}

function formatDateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso || '');
  return new Intl
      .DateTimeFormat(LOCALES[lang], {
        year: 'numeric',
        month: 'long',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
        timeZoneName: 'short',
      })
      .format(d);
}

function formatTime(iso) {
  const d = iso ? new Date(iso) : new Date();
  if (Number.isNaN(d.getTime())) return '';
  return new Intl
      .DateTimeFormat(LOCALES[lang], {
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      })
      .format(d);
}

function formatNumber(n) {
  return new Intl.NumberFormat(LOCALES[lang]).format(n);
}

// 'one' | 'other' (CLDR plural category of n in the current language: 0 is singular in French).
function plural(n) {
  return new Intl.PluralRules(LOCALES[lang]).select(n) === 'one' ? 'one' : 'other';
}

function formatPercent(fraction) {
  return new Intl
      .NumberFormat(LOCALES[lang], {
        style: 'percent',
        minimumFractionDigits: 1,
        maximumFractionDigits: 1,
      })
      .format(fraction);
}

// The NAS/SIN rules of the API: 9 digits after removing spaces and dashes, Luhn check digit.
function nasDigits(value) {
  return String(value).replace(/[\s-]/g, '');
}

function luhnValid(digits) {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

// null when valid, else the API's field code: 'missing' | 'format' | 'checksum'.
function checkNas(value) {
  const digits = nasDigits(value);
  if (digits === '') return 'missing';
  if (!/^\d{9}$/.test(digits)) return 'format';
  if (!luhnValid(digits)) return 'checksum';
  return null;
}

function checkCode(value) {
  const v = String(value).trim();
  if (v === '') return 'missing';
  if (!/^[A-Za-z0-9]{6}$/.test(v)) return 'format';
  return null;
}

// Common page chrome: the language toggle. Call once per page, after the DOM is parsed.
function initPage() {
  for (const btn of document.querySelectorAll('.lang-toggle')) {
    btn.addEventListener('click', () => setLang(btn.dataset.target));
  }
  applyStatic(document);
}

root.Scrutin = {
  getLang,
  setLang,
  onLangChange,
  t,
  tNodes,
  applyStatic,
  element,
  api,
  fetchLaws,
  lawTitle,
  lawState,
  retryAfterSeconds,
  formatDateTime,
  formatTime,
  formatNumber,
  formatPercent,
  plural,
  nasDigits,
  luhnValid,
  checkNas,
  checkCode,
  initPage,
};
})(window);
