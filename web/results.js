// The results page: one card per law with the oui/non counts, their share of the votes counted
// as bars, and the total, kept up to date by polling GET /api/v1/results/{law_id}.
//
// Each law is polled on its own schedule: live results every few seconds, embargoed results
// again when the embargo ends (403 results_embargoed tells when), final results never again.
// Errors back off exponentially; 429/503 wait for Retry-After. Polling pauses while the tab is
// hidden. Everything shown is re-rendered from `state` when the language changes.
(function() {
'use strict';

const S = window.Scrutin;
const $ = (id) => document.getElementById(id);
const el = S.element;

const LIVE_MS = 5000;
const MAX_BACKOFF_MS = 60000;
const EMBARGO_RECHECK_MS = 60000;
const TICK_MS = 1000;
// From the close until the record is sealed (a few seconds), ask for it this often.
const RECORD_SOON_MS = 2000;
// The counts of a record's reconciliation, each from its own store (API.md, "The record").
const RECONCILIATION = ['accepted', 'claims', 'ballots', 'receipts', 'tallied'];

const state = {
  laws: [],
  lawsStatus: 'loading',  // 'loading' | 'ok' | 'error'
  lawsFailures: 0,
  lawsNextAt: 0,
  results: new Map(),  // law_id -> {kind, data?, available_at?, failures, nextAt, inFlight}
  records: new Map(),  // law_id -> {kind, data?, available_at?, failures, nextAt, inFlight}
};

function announce(text) {
  const a = $('announcer');
  a.textContent = '';
  setTimeout(() => {
    a.textContent = text;
  }, 60);
}

function backoff(failures) {
  return Math.min(MAX_BACKOFF_MS, LIVE_MS * 2 ** Math.max(0, failures - 1));
}

function isCount(n) {
  return Number.isInteger(n) && n >= 0;
}

// ---- Fetching ------------------------------------------------------------------------------

async function loadLaws() {
  try {
    state.laws = await S.fetchLaws();
    state.lawsStatus = 'ok';
    state.lawsFailures = 0;
    for (const law of state.laws) {
      if (!state.results.has(law.law_id)) {
        state.results.set(law.law_id, {kind: 'loading', failures: 0, nextAt: 0});
        state.records.set(law.law_id, {kind: 'loading', failures: 0, nextAt: 0});
      }
    }
  } catch (e) {
    state.lawsFailures++;
    state.lawsStatus = state.laws.length ? 'ok' : 'error';
    state.lawsNextAt = Date.now() + backoff(state.lawsFailures);
  }
  renderAll();
}

async function refresh(law) {
  const r = state.results.get(law.law_id);
  r.inFlight = true;
  const before = r.kind;
  let res;
  try {
    res = await S.api('/results/' + encodeURIComponent(law.law_id));
  } catch (e) {
    res = null;
  }
  r.inFlight = false;
  const now = Date.now();
  const b = (res && res.body) || {};
  if (res && res.status === 200 && isCount(b.oui) && isCount(b.non)) {
    r.kind = 'ok';
    r.data = {
      oui: b.oui,
      non: b.non,
      total: isCount(b.total) ? b.total : b.oui + b.non,
      // Recorded, not yet counted: the mixer counts ballots in groups (docs/ballot-secrecy.md).
      uncounted: isCount(b.uncounted) ? b.uncounted : 0,
      updated_at: b.updated_at,
      final: b.final === true,
    };
    r.failures = 0;
    r.nextAt = r.data.final ? Infinity : now + LIVE_MS;
    // Announce changes of state seen on this page, not the state found on arrival.
    if (before === 'embargo' || (r.data.final && r.seen && !r.prevFinal)) {
      announce(S.t('results.published', {law: law.law_id}));
    }
    r.prevFinal = r.data.final;
    r.seen = true;
  } else if (res && res.status === 403 && b.error === 'results_embargoed') {
    r.kind = 'embargo';
    r.available_at = b.available_at || law.closes_at;
    r.failures = 0;
    const at = Date.parse(r.available_at);
    const until = Number.isNaN(at) ? EMBARGO_RECHECK_MS : at - now;
    r.nextAt = now + Math.min(EMBARGO_RECHECK_MS, Math.max(LIVE_MS, until));
  } else if (res && res.status === 404) {
    r.kind = 'unknown';
    r.failures = 0;
    r.nextAt = now + MAX_BACKOFF_MS;
  } else {
    r.failures++;
    // Keep showing the last good numbers, with a note, rather than blanking the card.
    r.kind = r.data ? 'stale' : 'error';
    let wait = backoff(r.failures);
    if (res && (res.status === 429 || res.status === 503)) {
      wait = Math.max(wait, S.retryAfterSeconds(res.headers, 10) * 1000);
    }
    r.nextAt = now + wait;
  }
  renderLaw(law);
}

// GET /api/v1/record/{law}: 403 poll_open (with available_at) until the law has closed and its
// record is sealed, then the record, which never changes again.
async function refreshRecord(law) {
  const r = state.records.get(law.law_id);
  r.inFlight = true;
  let res;
  try {
    res = await S.api('/record/' + encodeURIComponent(law.law_id));
  } catch (e) {
    res = null;
  }
  r.inFlight = false;
  const now = Date.now();
  const b = (res && res.body) || {};
  if (res && res.status === 200 && b.tally && isCount(b.tally.total)) {
    if (r.kind === 'pending') announce(S.t('record.published', {law: law.law_id}));
    r.kind = 'ok';
    r.data = b;
    r.failures = 0;
    r.nextAt = Infinity;
  } else if (res && res.status === 403 && b.error === 'poll_open') {
    r.kind = 'pending';
    r.available_at = b.available_at || law.closes_at;
    r.failures = 0;
    const at = Date.parse(r.available_at);
    const until = Number.isNaN(at) ? EMBARGO_RECHECK_MS : at - now;
    r.nextAt = now + Math.min(EMBARGO_RECHECK_MS, Math.max(RECORD_SOON_MS, until));
  } else if (res && res.status === 404) {
    r.kind = 'unknown';
    r.failures = 0;
    r.nextAt = now + MAX_BACKOFF_MS;
  } else {
    r.failures++;
    r.kind = 'error';
    let wait = backoff(r.failures);
    if (res && (res.status === 429 || res.status === 503)) {
      wait = Math.max(wait, S.retryAfterSeconds(res.headers, 10) * 1000);
    }
    r.nextAt = now + wait;
  }
  renderLaw(law);
}

function tick() {
  if (document.hidden) return;
  const now = Date.now();
  if (state.lawsStatus === 'error' && now >= state.lawsNextAt) {
    state.lawsNextAt = Infinity;
    loadLaws();
    return;
  }
  for (const law of state.laws) {
    const r = state.results.get(law.law_id);
    if (r && !r.inFlight && now >= r.nextAt) refresh(law);
    const rec = state.records.get(law.law_id);
    if (rec && !rec.inFlight && now >= rec.nextAt) refreshRecord(law);
  }
}

// ---- Rendering -----------------------------------------------------------------------------

function renderAll() {
  const status = $('results-status');
  status.replaceChildren();
  if (state.lawsStatus === 'loading')
    status.append(S.t('results.loading'));
  else if (state.lawsStatus === 'error') {
    status.append(el('span', {class: 'text-error', text: S.t('results.laws.error')}));
  } else if (state.laws.length === 0)
    status.append(S.t('vote.laws.empty'));

  const list = $('results-list');
  const wanted = state.laws.map((l) => 'result-' + l.law_id);
  for (const card of Array.from(list.children)) {
    if (!wanted.includes(card.id)) card.remove();
  }
  for (const law of state.laws) {
    let card = document.getElementById('result-' + law.law_id);
    if (!card) {
      card = el('section', {
        class: 'result-card',
        id: 'result-' + law.law_id,
        'data-law': law.law_id,
        'aria-labelledby': 'result-' + law.law_id + '-h',
      });
      list.append(card);
    }
    renderLaw(law);
  }
}

function bar(which, count, total) {
  const share = total > 0 ? count / total : 0;
  const fill = el('div', {class: 'bar-fill'});
  fill.style.width = (share * 100).toFixed(2) + '%';
  return el(
      'div', {class: 'bar-row bar-' + which, 'data-choice': which},
      el('div', {class: 'bar-head'}, el('span', {class: 'bar-name', text: S.t('results.' + which)}),
         el('span', {
           class: 'bar-value',
           'data-count': String(count),
           text: S.t('results.votes.' + S.plural(count), {
             n: S.formatNumber(count),
             pct: S.formatPercent(share),
           }),
         })),
      el('div', {class: 'bar-track', 'aria-hidden': 'true'}, fill));
}

function renderLaw(law) {
  const card = document.getElementById('result-' + law.law_id);
  if (!card) return;
  const r = state.results.get(law.law_id) || {kind: 'loading'};
  card.dataset.state = r.kind;
  const parts = [
    el('h2', {id: 'result-' + law.law_id + '-h', class: 'result-heading'},
       el('span', {class: 'law-id', text: law.law_id}), ' ',
       el('span', {class: 'law-title', text: S.lawTitle(law)})),
    el('p', {
      class: 'law-meta',
      text: S.t('law.window', {
        opens: S.formatDateTime(law.opens_at),
        closes: S.formatDateTime(law.closes_at),
      }),
    }),
  ];
  if (r.kind === 'loading') {
    parts.push(el('p', {class: 'result-note', text: S.t('results.loading')}));
  } else if (r.kind === 'embargo') {
    parts.push(el('p', {
      class: 'notice notice-info result-embargo',
      text: S.t('results.embargo', {date: S.formatDateTime(r.available_at)}),
    }));
  } else if (r.kind === 'unknown') {
    parts.push(el('p', {class: 'notice notice-error', text: S.t('results.unknown')}));
  } else if (r.kind === 'error') {
    parts.push(el('p', {class: 'notice notice-error', text: S.t('results.unavailable')}));
  } else {
    const d = r.data;
    parts.push(bar('oui', d.oui, d.oui + d.non), bar('non', d.non, d.oui + d.non));
    parts.push(
        el('p', {class: 'result-total', 'data-total': String(d.total)},
           S.tNodes('results.total', {n: el('strong', {text: S.formatNumber(d.total)})})));
    if (d.uncounted > 0) {
      parts.push(el('p', {
        class: 'result-uncounted',
        text: S.t('results.uncounted', {n: S.formatNumber(d.uncounted)}),
      }));
    }
    if (d.final) {
      parts.push(el('p', {class: 'result-state'},
                    el('span', {class: 'badge badge-final', text: S.t('results.final')})));
    } else if (S.lawState(law) === 'closed') {
      // Closed, last group not counted yet (the mixer waits --mix-settle-ms after the close).
      parts.push(el('p', {class: 'result-state result-closing', text: S.t('results.closing')}));
    } else {
      parts.push(el('p', {
        class: 'result-state',
        text: S.t('results.live', {time: S.formatTime(d.updated_at)}),
      }));
    }
    if (r.kind === 'stale') {
      parts.push(el('p', {class: 'notice notice-error', text: S.t('results.unavailable')}));
    }
  }
  parts.push(renderRecord(law));
  card.replaceChildren(...parts);
}

function signed(n) {
  return (n > 0 ? '+' : '\u2212') + S.formatNumber(Math.abs(n));
}

// Only a path on this site (or this origin) is used as a link; anything else falls back to the
// documented address of the receipts list.
function receiptsHref(url, lawId) {
  if (typeof url === 'string' && (/^\/[^/\\]/.test(url) || url.startsWith(location.origin + '/'))) {
    return url;
  }
  return '/api/v1/record/' + encodeURIComponent(lawId) + '/receipts';
}

// A labelled value that may be long (hashes, keys): the label, then the value in <code>.
function hexLine(cls, label, value) {
  return el('p', {class: 'record-hex ' + cls}, el('span', {class: 'record-label', text: label}),
            ' ', el('code', {text: String(value || '')}));
}

// The law's signed record (API.md, "The record of a closed law"), or when it will be published.
function renderRecord(law) {
  const r = state.records.get(law.law_id) || {kind: 'loading'};
  const id = 'record-' + law.law_id;
  const section = el('section', {
    class: 'record',
    id,
    'data-state': r.kind,
    'aria-labelledby': id + '-h',
  });
  section.append(el('h3', {id: id + '-h', class: 'record-heading', text: S.t('record.h')}));
  if (r.kind === 'loading') {
    section.append(el('p', {class: 'result-note', text: S.t('record.loading')}));
    return section;
  }
  if (r.kind === 'pending') {
    section.append(el('p', {
      class: 'notice notice-info record-pending',
      text: S.t('record.pending', {date: S.formatDateTime(r.available_at)}),
    }));
    return section;
  }
  if (r.kind === 'unknown') {
    section.append(el('p', {class: 'result-note', text: S.t('record.unknown')}));
    return section;
  }
  if (r.kind === 'error') {
    section.append(el('p', {class: 'notice notice-error', text: S.t('record.unavailable')}));
    return section;
  }

  const d = r.data;
  const tally = d.tally;
  const total = tally.total;
  if (d.sealed_at) {
    section.append(el('p', {
      class: 'record-sealed',
      text: S.t('record.sealed', {date: S.formatDateTime(d.sealed_at)}),
    }));
  }
  section.append(el('p', {class: 'record-tally', 'data-total': String(total)},
                    S.tNodes('record.tally', {
                      oui: el('strong', {text: S.formatNumber(tally.oui)}),
                      non: el('strong', {text: S.formatNumber(tally.non)}),
                      total: el('strong', {text: S.formatNumber(total)}),
                    })));

  // Reconciliation: every count against the tally's total; a difference is shown, never hidden.
  const rec = d.reconciliation && typeof d.reconciliation === 'object' ? d.reconciliation : {};
  const rows = [];
  let mismatches = 0;
  for (const name of RECONCILIATION) {
    const n = rec[name];
    const known = isCount(n);
    const diff = known ? n - total : null;
    if (diff !== 0) mismatches++;
    rows.push(el(
        'tr', {class: diff === 0 ? null : 'is-mismatch', 'data-count': name,
               'data-value': known ? String(n) : ''},
        el('th', {scope: 'row', text: S.t('record.recon.' + name)}),
        el('td', {class: 'num', text: known ? S.formatNumber(n) : '—'}),
        el('td', {
          class: 'record-check',
          text: diff === 0 ? S.t('record.recon.equal') :
              known        ? S.t('record.recon.differs', {d: signed(diff)}) :
                             '—',
        })));
  }
  section.append(
      el('table', {class: 'record-table'},
         el('caption', {text: S.t('record.recon.caption')}),
         el('thead', null,
            el('tr', null, el('th', {scope: 'col', text: S.t('record.recon.what')}),
               el('th', {scope: 'col', class: 'num', text: S.t('record.recon.n')}),
               el('th', {scope: 'col', text: S.t('record.recon.check')}))),
         el('tbody', null, ...rows)),
      el('p', {class: 'record-note', text: S.t('record.recon.note')}),
      mismatches ? el('p', {
        class: 'notice notice-error record-mismatch',
        'data-mismatches': String(mismatches),
        text: S.t('record.recon.mismatch'),
      }) :
                   el('p', {class: 'record-ok', text: S.t('record.recon.ok')}));

  const receipts = d.receipts && typeof d.receipts === 'object' ? d.receipts : {};
  const count = isCount(receipts.count) ? receipts.count : 0;
  section.append(
      el('p', {class: 'record-receipts'},
         el('a', {
           href: receiptsHref(receipts.url, law.law_id),
           class: 'record-receipts-link',
           'data-count': String(count),
           text: S.t('record.receipts.link', {n: S.formatNumber(count)}),
         })),
      el('p', {class: 'record-note'}, S.tNodes('record.receipts.help', {
        link: el('a', {href: 'receipt.html', text: S.t('nav.receipt')}),
      })),
      hexLine('record-sha256', S.t('record.sha256'), receipts.sha256));

  const sig = d.signature && typeof d.signature === 'object' ? d.signature : {};
  section.append(
      hexLine('record-pubkey', S.t('record.pubkey'), sig.public_key),
      hexLine('record-signature',
              S.t('record.signature', {alg: sig.algorithm === 'ed25519' ? 'Ed25519' : String(sig.algorithm || '?')}),
              sig.value),
      el('p', {class: 'record-verify'}, S.tNodes('record.verify', {
        cmd: el('code', {text: 'scrutin verify-record --url ' + location.origin}),
      })));
  return section;
}

function init() {
  S.initPage();
  S.onLangChange(() => {
    $('announcer').textContent = '';  // A stale announcement must not linger in the old language.
    renderAll();
  });
  renderAll();
  loadLaws().then(tick);
  setInterval(tick, TICK_MS);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) tick();
  });
}

init();
})();
