// The "check my receipt" page: the voter types the receipt shown after voting, the page asks
// GET /api/v1/receipts/{receipt} and says whether a ballot with that receipt is counted. It never
// says, and the API never knows, how that ballot voted.
//
// The receipt is read as the API reads it (core::ParseReceipt): case-insensitive, dashes
// optional, Crockford's look-alikes O -> 0 and I, L -> 1; spaces are dropped too. A receipt that
// cannot be one is reported in the form and never sent. A 404 is explained honestly: ballots are
// counted in shuffled groups, so a receipt shows up once its group is counted, at the latest a
// few seconds after the close; when every law has closed and its results are final, a receipt
// still missing is one to report to the election authority. A link from the vote page passes the
// receipt in the URL fragment (never sent to a server), and the page checks it at once.
(function() {
'use strict';

const S = window.Scrutin;
const $ = (id) => document.getElementById(id);
const el = S.element;

const CROCKFORD = /^[0-9A-HJKMNP-TV-Z]{16}$/;

const state = {
  fieldError: null,  // null | 'missing' | 'format'
  outcome: null,     // what the result area shows; see render()
  token: 0,          // the check in flight; a newer one makes older answers stale
  laws: [],          // the laws as last read, to name a counted receipt's law by its title
};

// 'XXXX-XXXX-XXXX-XXXX' as the API writes receipts, or null when `text` cannot be a receipt.
function normalise(text) {
  const chars = String(text)
                    .toUpperCase()
                    .replace(/[\s-]/g, '')
                    .replace(/O/g, '0')
                    .replace(/[IL]/g, '1');
  if (!CROCKFORD.test(chars)) return null;
  return chars.match(/.{4}/g).join('-');
}

// ---- Checking ------------------------------------------------------------------------------

async function check(fromUser) {
  const raw = $('receipt').value;
  const receipt = normalise(raw);
  state.fieldError = raw.trim() === '' ? 'missing' : receipt ? null : 'format';
  renderField();
  if (state.fieldError) {
    state.token++;
    state.outcome = null;
    render();
    if (fromUser) $('receipt').focus();
    return;
  }
  const token = ++state.token;
  state.outcome = {kind: 'checking', receipt};
  render();
  let res;
  try {
    res = await S.api('/receipts/' + encodeURIComponent(receipt));
  } catch (e) {
    res = null;
  }
  if (token !== state.token) return;
  const b = (res && res.body) || {};
  let outcome;
  if (!res) {
    outcome = {kind: 'network', receipt};
  } else if (res.status === 200 && b.counted === true) {
    outcome = {kind: 'counted', receipt: b.receipt || receipt, law_id: b.law_id};
  } else if (res.status === 404) {
    outcome = Object.assign({receipt}, await notFoundKind());
  } else if (res.status === 429 || res.status === 503) {
    outcome = {
      kind: res.status === 429 ? 'busy' : 'unavailable',
      receipt,
      wait: S.retryAfterSeconds(res.headers, res.status === 429 ? 5 : 2),
    };
  } else {
    outcome = {kind: 'error', receipt, code: res.status};
  }
  if (token !== state.token) return;
  state.outcome = outcome;
  render();
  $('receipt-outcome').focus();
}

// A receipt not found is 'missing' (worth reporting) only when every law has closed and its
// results are final, i.e. every recorded ballot is counted; otherwise it is 'pending', with the
// latest close still to come. Any doubt (laws or results unreadable) is 'pending'.
async function notFoundKind() {
  let laws;
  try {
    laws = await S.fetchLaws();
  } catch (e) {
    return {kind: 'pending', laws: []};
  }
  state.laws = laws;
  const notClosed = laws.filter((l) => S.lawState(l) !== 'closed');
  if (laws.length === 0 || notClosed.length > 0) return {kind: 'pending', laws};
  const finals = await Promise.all(laws.map(async (l) => {
    try {
      const r = await S.api('/results/' + encodeURIComponent(l.law_id));
      return r.status === 200 && r.body && r.body.final === true;
    } catch (e) {
      return false;
    }
  }));
  return {kind: finals.every(Boolean) ? 'missing' : 'pending', laws};
}

// ---- Rendering -----------------------------------------------------------------------------

function renderField() {
  const code = state.fieldError;
  const msg = $('receipt-error');
  msg.hidden = !code;
  msg.textContent = code ? S.t('receipt.err.' + code) : '';
  $('field-receipt').classList.toggle('field-invalid', Boolean(code));
  if (code)
    $('receipt').setAttribute('aria-invalid', 'true');
  else
    $('receipt').removeAttribute('aria-invalid');
}

const PANEL_CLASS = {
  checking: 'panel-progress',
  counted: 'panel-success',
  pending: 'panel-warning',
  missing: 'panel-error',
  busy: 'panel-warning',
  unavailable: 'panel-warning',
  network: 'panel-error',
  error: 'panel-error',
};

// The latest close among the laws still open or not yet open, or null.
function nextClose(laws) {
  let best = null;
  for (const l of laws || []) {
    if (S.lawState(l) === 'closed') continue;
    const t = Date.parse(l.closes_at);
    if (!Number.isNaN(t) && (best === null || t > best.t)) best = {t, iso: l.closes_at};
  }
  return best && best.iso;
}

function render() {
  const o = state.outcome;
  const live = $('receipt-live');
  live.replaceChildren();
  if (!o) {
    live.className = '';
    delete live.dataset.outcome;
    return;
  }
  live.className = 'panel ' + PANEL_CLASS[o.kind];
  live.dataset.outcome = o.kind;
  const heading = (key) => el('h2', {class: 'outcome-heading'}, S.t(key));
  const para = (key, params) => el('p', null, S.tNodes(key, params));
  const receipt = el('strong', {class: 'receipt-ref', text: o.receipt});
  switch (o.kind) {
    case 'checking':
      live.append(
          el('p', {class: 'outcome-progress'}, el('span', {class: 'spinner', 'aria-hidden': 'true'}),
             S.t('receipt.checking')));
      break;
    case 'counted': {
      live.append(heading('receipt.counted.h'), para('receipt.counted.body', {
                    receipt,
                    law: el('strong', {class: 'law-ref', text: o.law_id || ''}),
                  }));
      const law = state.laws.find((l) => l.law_id === o.law_id);
      if (law) live.append(el('p', {class: 'review-title', text: S.lawTitle(law)}));
      live.append(para('receipt.counted.secret'));
      break;
    }
    case 'pending': {
      live.append(heading('receipt.pending.h'), para('receipt.pending.body', {receipt}));
      const close = nextClose(o.laws);
      if (close) live.append(para('receipt.pending.when', {date: S.formatDateTime(close)}));
      live.append(para('receipt.pending.report'));
      break;
    }
    case 'missing':
      live.append(
          heading('receipt.missing.h'), para('receipt.missing.body', {receipt}),
          el('p', {class: 'report'}, S.t('receipt.missing.report')));
      break;
    case 'busy':
    case 'unavailable':
      live.append(
          heading('outcome.' + o.kind + '.h'),
          para('receipt.' + o.kind + '.body', {s: S.formatNumber(o.wait)}));
      break;
    case 'network':
      live.append(heading('outcome.network.h'), para('receipt.network.body'));
      break;
    case 'error':
      live.append(heading('outcome.error.h'), para('receipt.error.body', {code: o.code}));
      break;
    default:
      break;
  }
}

// ---- Wiring --------------------------------------------------------------------------------

// A receipt passed in the fragment (#XXXX-XXXX-XXXX-XXXX) is filled in and checked at once.
function fromFragment() {
  let text = '';
  try {
    text = decodeURIComponent(location.hash.replace(/^#/, ''));
  } catch (e) {
    text = '';
  }
  if (!text) return;
  $('receipt').value = text;
  check(false);
}

function init() {
  S.initPage();
  S.onLangChange(() => {
    renderField();
    render();
  });
  $('receipt-form').hidden = false;
  $('receipt-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    check(true);
  });
  $('receipt').addEventListener('input', () => {
    if (state.fieldError && normalise($('receipt').value)) {
      state.fieldError = null;
      renderField();
    }
  });
  window.addEventListener('hashchange', fromFragment);
  S.fetchLaws().then((laws) => {
    state.laws = laws;
    render();
  }, () => {});
  fromFragment();
}

init();
})();
