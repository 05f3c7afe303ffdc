// The vote page: ballot form (law, NAS, code, answer) → review → outcome.
//
// Flow: the form is checked in the browser first (NAS Luhn check, code format) so that typing
// mistakes never reach the server. On confirmation the NAS and code are read once into the
// request body, cleared from the page, and sent with POST /api/v1/vote; nothing keeps them
// afterwards (no storage, no URL, no global variable). The outcome view then follows
// GET /api/v1/vote/{request_id} until the status is final, and explains every API error.
// Everything shown is re-rendered from `state` when the language changes.
(function () {
'use strict';

const S = window.Scrutin;
const $ = (id) => document.getElementById(id);
const el = S.element;

const FINAL = ['accepted', 'duplicate', 'invalid'];
// Delays between status polls; the last one repeats until the budget is spent.
const POLL_DELAYS_MS = [150, 300, 600, 1000, 1500, 2000];
const POLL_BUDGET_MS = 90000;
const UNKNOWN_GRACE_MS = 15000;
const LAW_REFRESH_MS = 30000;
const FIELD_KEYS = {
  law_id: 'law',
  nas: 'nas',
  code: 'code',
  vote: 'vote'
};
const FIELD_ORDER = ['law_id', 'nas', 'code', 'vote'];

const state = {
  laws: [],
  lawsStatus: 'loading',  // 'loading' | 'ok' | 'error'
  step: 'form',
  fieldErrors: {},    // API field name -> code
  formNotice: false,  // true when NAS and code were cleared by a submission and must be retyped
  outcome: null,      // what step 3 shows; see renderOutcome()
  pollToken: 0,
  countdownTimer: null,
};

// ---- Steps ---------------------------------------------------------------------------------

function showStep(step) {
  state.step = step;
  $('step-form').hidden = step !== 'form';
  $('step-review').hidden = step !== 'review';
  $('step-outcome').hidden = step !== 'outcome';
}

function announce(text) {
  const a = $('announcer');
  a.textContent = '';
  setTimeout(() => {
    a.textContent = text;
  }, 60);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- Laws ----------------------------------------------------------------------------------

function lawById(id) {
  return state.laws.find((l) => l.law_id === id);
}

function selectedLawId() {
  const r = document.querySelector('input[name="law"]:checked');
  return r ? r.value : null;
}

function selectedVote() {
  const r = document.querySelector('input[name="vote"]:checked');
  return r ? r.value : null;
}

async function loadLaws() {
  state.lawsStatus = 'loading';
  renderLaws();
  try {
    state.laws = await S.fetchLaws();
    state.lawsStatus = 'ok';
  } catch (e) {
    state.lawsStatus = 'error';
  }
  renderLaws();
}

function renderLaws() {
  const box = $('law-options');
  const status = $('law-status');
  const retry = $('law-retry');
  const keep = selectedLawId();
  const focusedLaw = document.activeElement && document.activeElement.name === 'law' ?
      document.activeElement.value :
      null;

  status.replaceChildren();
  retry.hidden = state.lawsStatus !== 'error';
  if (state.lawsStatus === 'loading') {
    status.append(S.t('vote.loading'));
  } else if (state.lawsStatus === 'error') {
    status.append(el('span', {class: 'text-error', text: S.t('vote.laws.error')}));
  } else if (state.laws.length === 0) {
    status.append(S.t('vote.laws.empty'));
  }

  box.replaceChildren();
  const openLaws = state.laws.filter((l) => S.lawState(l) === 'open');
  for (const law of state.laws) {
    const lawState = S.lawState(law);
    const id = 'law-' + law.law_id;
    const input = el('input', {
      type: 'radio',
      name: 'law',
      value: law.law_id,
      id,
      'aria-describedby': id + '-meta',
      disabled: lawState !== 'open',
    });
    if (law.law_id === keep || (openLaws.length === 1 && openLaws[0] === law && !keep)) {
      input.checked = true;
    }
    const badge = el('span', {
      class: 'badge badge-' + lawState,
      text: S.t('law.state.' + lawState),
    });
    const windowText = S.t('law.window', {
      opens: S.formatDateTime(law.opens_at),
      closes: S.formatDateTime(law.closes_at),
    });
      box.append(el('div', { class: 'option law-option' + (lawState === 'open' ? '' : ' is-disabled') },
        input,
        el('label', { for: id, class: 'option-label' },
          el('span', { class: 'law-id', text: law.law_id }),
          el('span', { class: 'law-title', text: S.lawTitle(law) })),
        el('p', { id: id + '-meta', class: 'law-meta' }, badge, ' ', windowText)));
    }
    if (focusedLaw) {
      const again = document.getElementById('law-' + focusedLaw);
      if (again) again.focus();
    }
  }

  // ---- Form ----------------------------------------------------------------------------------

  // Keeps the NAS typed as `000 000 000` whatever is typed or pasted, caret preserved.
  function maskNas() {
    const input = $('nas');
    const raw = input.value;
    const caret = input.selectionStart === null ? raw.length : input.selectionStart;
    const before = raw.slice(0, caret).replace(/\D/g, '').length;
    const digits = raw.replace(/\D/g, '').slice(0, 9);
    const formatted =
        [digits.slice(0, 3), digits.slice(3, 6), digits.slice(6, 9)].filter(Boolean).join(' ');
    if (formatted !== raw) {
      input.value = formatted;
      const d = Math.min(before, digits.length);
      const pos = d + (d > 6 ? 2 : d > 3 ? 1 : 0);
      input.setSelectionRange(pos, pos);
    }
    if (state.fieldErrors.nas && !S.checkNas(input.value)) clearFieldError('nas');
  }

  // Upper-cases the code as it is typed and drops anything outside [A-Z0-9].
  function maskCode() {
    const input = $('code');
    const raw = input.value;
    const caret = input.selectionStart === null ? raw.length : input.selectionStart;
    const keep = (s) => s.toUpperCase().replace(/[^A-Z0-9]/g, '');
    const before = keep(raw.slice(0, caret)).length;
    const cleaned = keep(raw).slice(0, 6);
    if (cleaned !== raw) {
      input.value = cleaned;
      const pos = Math.min(before, cleaned.length);
      input.setSelectionRange(pos, pos);
    }
    if (state.fieldErrors.code && !S.checkCode(input.value)) clearFieldError('code');
  }

  // A complete NAS with a wrong check digit is reported as soon as the voter leaves the field.
  function onNasBlur() {
    const code = S.checkNas($('nas').value);
    if (code === 'checksum') setFieldError('nas', code);
  }

  function validateForm() {
    const errors = {};
    const lawId = selectedLawId();
    if (!lawId)
      errors.law_id = 'missing';
    else if (S.lawState(lawById(lawId) || {}) !== 'open')
      errors.law_id = 'closed';
    const nas = S.checkNas($('nas').value);
    if (nas) errors.nas = nas;
    const code = S.checkCode($('code').value);
    if (code) errors.code = code;
    if (!selectedVote()) errors.vote = 'missing';
    return errors;
  }

  function fieldMessage(field, code) {
    if (code === 'unknown_field') return S.t('err.unknown_field');
    const key = 'err.' + (FIELD_KEYS[field] || field) + '.' + code;
    const strings = window.ScrutinStrings[S.getLang()];
    return strings[key] !== undefined ? S.t(key) : S.t('err.field');
  }

  function setFieldError(field, code) {
    state.fieldErrors[field] = code;
    renderFieldErrors(false);
  }

  function clearFieldError(field) {
    delete state.fieldErrors[field];
    renderFieldErrors(false);
  }

  // Shows each error next to its field; with `summary`, also the list at the top of the form.
  function renderFieldErrors(summary) {
    const fields = {law_id: 'law', nas: 'nas', code: 'code', vote: 'vote'};
    for (const [field, prefix] of Object.entries(fields)) {
      const code = state.fieldErrors[field];
      const msg = $(prefix + '-error');
      const wrapper = $('field-' + prefix);
      msg.hidden = !code;
      msg.textContent = code ? fieldMessage(field, code) : '';
      wrapper.classList.toggle('field-invalid', Boolean(code));
      const input = prefix === 'nas' || prefix === 'code' ? $(prefix) : null;
      if (input) {
        if (code)
          input.setAttribute('aria-invalid', 'true');
        else
          input.removeAttribute('aria-invalid');
      }
    }
    const box = $('error-summary');
    const list = $('error-summary-list');
    const entries = Object.entries(state.fieldErrors);
    if (entries.length === 0) {
      box.hidden = true;
      list.replaceChildren();
      return;
    }
    if (!summary && box.hidden) return;
    list.replaceChildren();
    const rank = (f) => (FIELD_ORDER.includes(f) ? FIELD_ORDER.indexOf(f) : FIELD_ORDER.length);
    entries.sort((a, b) => rank(a[0]) - rank(b[0]));
    for (const [field, code] of entries) {
      const target = fields[field] ? fields[field] : null;
      const link = el(
          'a', {href: '#' + (target ? 'field-' + target : 'vote-form')}, fieldMessage(field, code));
      link.addEventListener('click', (ev) => {
        ev.preventDefault();
        focusField(target);
      });
      list.append(el('li', null, link));
    }
    box.hidden = false;
  }

  function focusField(prefix) {
    if (prefix === 'nas' || prefix === 'code') {
      $(prefix).focus();
      return;
    }
    const group = prefix === 'law' ? 'law' : 'vote';
    const target = document.querySelector(`input[name="${group}"]:checked`) ||
        document.querySelector(`input[name="${group}"]:not([disabled])`);
    if (target)
      target.focus();
    else
      $('field-' + (prefix || 'law')).scrollIntoView();
  }

  function onContinue(ev) {
    ev.preventDefault();
    state.fieldErrors = validateForm();
    renderFieldErrors(true);
    if (Object.keys(state.fieldErrors).length > 0) {
      $('error-summary').focus();
      return;
    }
    state.formNotice = false;
    $('reenter-notice').hidden = true;
    renderReview();
    showStep('review');
    $('review-heading').focus();
  }

  // ---- Review --------------------------------------------------------------------------------

  function renderReview() {
    const lawId = selectedLawId();
    const vote = selectedVote();
    if (!lawId || !vote) return;
    $('review-heading').replaceChildren(S.tNodes('review.h', {
      choice: el('strong', {class: 'choice-' + vote, text: vote.toUpperCase()}),
      law: el('strong', {class: 'law-ref', text: lawId}),
    }));
    $('review-title').textContent = S.lawTitle(lawById(lawId));
  }

  function onBack() {
    showStep('form');
    focusField('law');
  }

  // ---- Submission and outcome ----------------------------------------------------------------

  async function onConfirm() {
    const lawId = selectedLawId();
    const vote = selectedVote();
    const nasInput = $('nas');
    const codeInput = $('code');
    // Read once, then clear the page: from here the credential lives only in this request body.
    const body = {
      nas: S.nasDigits(nasInput.value),
      code: codeInput.value.trim().toUpperCase(),
      law_id: lawId,
      vote,
    };
    nasInput.value = '';
    codeInput.value = '';
    $('confirm').disabled = true;

    setOutcome({kind: 'sending', law_id: lawId});
    showStep('outcome');
    $('step-outcome').focus();

    let res;
    try {
      res = await S.api('/vote', {method: 'POST', json: body});
    } catch (e) {
      setOutcome({kind: 'network', law_id: lawId});
      return;
    } finally {
      body.nas = '';
      body.code = '';
      $('confirm').disabled = false;
    }
    handleVoteResponse(res, lawId);
  }

  function handleVoteResponse(res, lawId) {
    const b = res.body || {};
    if (res.status === 202 || res.status === 200 || res.status === 201) {
      if (typeof b.request_id !== 'string' || b.request_id === '') {
        setOutcome({kind: 'error', law_id: lawId, code: res.status});
        return;
      }
      const ready = b.status === 'invalid' || (b.status === 'accepted' && b.receipt) ||
          (b.status === 'duplicate' && b.attempt_count);
      if (ready) {
        setOutcome(finalOutcome(b, lawId));
      } else {
        setOutcome({kind: 'pending', law_id: lawId, request_id: b.request_id});
        pollStatus(b.request_id, lawId);
      }
      return;
    }
    if (res.status === 400) {
      const fields = b.fields && typeof b.fields === 'object' ? b.fields : {};
      if (Object.keys(fields).length === 0) {
        setOutcome({kind: 'refused', law_id: lawId});
        return;
      }
      returnToForm(fields);
      return;
    }
    if (res.status === 403 && b.error === 'poll_closed') {
      setOutcome({kind: 'closed', law_id: lawId});
      return;
    }
    if (res.status === 413 || res.status === 415) {
      setOutcome({kind: 'refused', law_id: lawId});
      return;
    }
    if (res.status === 429 || res.status === 503) {
      const wait = S.retryAfterSeconds(res.headers, res.status === 429 ? 5 : 10);
      setOutcome({
        kind: res.status === 429 ? 'busy' : 'unavailable',
        law_id: lawId,
        retry_at: Date.now() + wait * 1000,
      });
      return;
    }
    setOutcome({kind: 'error', law_id: lawId, code: res.status});
  }

  function finalOutcome(b, lawId) {
    return {
      kind: b.status,
      law_id: typeof b.law_id === 'string' ? b.law_id : lawId,
      request_id: b.request_id,
      receipt: typeof b.receipt === 'string' ? b.receipt : null,
      attempt_count: Number.isInteger(b.attempt_count) ? b.attempt_count : null,
    };
  }

  // Follows GET /api/v1/vote/{id} until the status is final or the time budget is spent. A new
  // poll (or leaving the outcome step) cancels the previous one through state.pollToken.
  async function pollStatus(requestId, lawId) {
    const token = ++state.pollToken;
    const started = Date.now();
    let attempt = 0;
    let wait = POLL_DELAYS_MS[0];
    while (token === state.pollToken) {
      await sleep(wait);
      if (token !== state.pollToken) return;
      if (Date.now() - started > POLL_BUDGET_MS) {
        setOutcome({kind: 'slow', law_id: lawId, request_id: requestId});
        return;
      }
      attempt++;
      wait = POLL_DELAYS_MS[Math.min(attempt, POLL_DELAYS_MS.length - 1)];
      let res;
      try {
        res = await S.api('/vote/' + encodeURIComponent(requestId));
      } catch (e) {
        if (token === state.pollToken) {
          setOutcome({kind: 'reconnecting', law_id: lawId, request_id: requestId});
        }
        continue;
      }
      if (token !== state.pollToken) return;
      const b = res.body || {};
      if (res.status === 200 && FINAL.includes(b.status)) {
        setOutcome(finalOutcome(Object.assign({request_id: requestId}, b), lawId));
        return;
      }
      if (res.status === 200) {
        if (state.outcome.kind !== 'pending') {
          setOutcome({kind: 'pending', law_id: lawId, request_id: requestId});
        }
        continue;
      }
      // In the distributed shape the status record is written by a validator shortly after the
      // 202: an unknown id is only final once that grace period is over.
      if (res.status === 404 && Date.now() - started > UNKNOWN_GRACE_MS) {
        setOutcome({kind: 'unknown', law_id: lawId, request_id: requestId});
        return;
      }
      if (res.status === 429 || res.status === 503) {
        wait = Math.max(wait, S.retryAfterSeconds(res.headers, 2) * 1000);
      }
    }
  }

  function setOutcome(outcome) {
    state.outcome = outcome;
    renderOutcome();
  }

  function returnToForm(fields) {
    state.pollToken++;
    stopCountdown();
    state.fieldErrors = {};
    for (const [field, code] of Object.entries(fields || {})) {
      state.fieldErrors[field] = String(code);
    }
    state.formNotice = true;
    $('reenter-notice').hidden = false;
    renderFieldErrors(true);
    showStep('form');
    if (Object.keys(state.fieldErrors).length > 0)
      $('error-summary').focus();
    else
      $('nas').focus();
  }

  function startOver() {
    state.pollToken++;
    stopCountdown();
    state.outcome = null;
    state.fieldErrors = {};
    state.formNotice = false;
    $('vote-form').reset();
    $('nas').value = '';
    $('code').value = '';
    $('reenter-notice').hidden = true;
    renderFieldErrors(false);
    renderLaws();
    showStep('form');
    focusField('law');
  }

  function stopCountdown() {
    if (state.countdownTimer) clearInterval(state.countdownTimer);
    state.countdownTimer = null;
  }

  const PANEL_CLASS = {
    sending: 'panel-progress',
    pending: 'panel-progress',
    reconnecting: 'panel-progress',
    accepted: 'panel-success',
    duplicate: 'panel-warning',
    invalid: 'panel-error',
    closed: 'panel-warning',
    busy: 'panel-warning',
    unavailable: 'panel-warning',
    network: 'panel-error',
    refused: 'panel-error',
    error: 'panel-error',
    unknown: 'panel-error',
    slow: 'panel-warning',
  };

  // Draws state.outcome. The heading and main sentence go in the aria-live region so screen
  // readers hear each status change; the receipt, countdown and buttons sit outside it.
  function renderOutcome() {
    const o = state.outcome;
    const live = $('outcome-live');
    const extra = $('outcome-extra');
    const actions = $('outcome-actions');
    stopCountdown();
    live.replaceChildren();
    extra.replaceChildren();
    actions.replaceChildren();
    if (!o) return;
    live.className = 'panel ' + PANEL_CLASS[o.kind];
    live.dataset.outcome = o.kind;
    const law = el('strong', {class: 'law-ref', text: o.law_id || ''});
    const heading = (key) => el('h2', {class: 'outcome-heading'}, S.t(key));
    const para = (key, params) => el('p', null, S.tNodes(key, params));

    switch (o.kind) {
      case 'sending':
      case 'pending':
      case 'reconnecting':
        live.append(
            el('p', {class: 'outcome-progress'},
               el('span', {class: 'spinner', 'aria-hidden': 'true'}), S.t('outcome.' + o.kind)));
        break;
      case 'accepted': {
        live.append(heading('outcome.accepted.h'), para('outcome.accepted.body', {law}));
        if (o.receipt) {
          const copy =
              el('button', {type: 'button', class: 'button button-secondary'}, S.t('outcome.copy'));
          copy.addEventListener('click', () => copyReceipt(o.receipt));
          const print = el(
              'button', {type: 'button', class: 'button button-secondary'}, S.t('outcome.print'));
          print.addEventListener('click', () => window.print());
          extra.append(el(
              'div', {class: 'receipt'},
              el('h3', {id: 'receipt-label', text: S.t('outcome.receipt.label')}),
              el('p', {class: 'receipt-value', id: 'receipt', 'aria-labelledby': 'receipt-label'},
                 el('code', {text: o.receipt})),
              el('p', {class: 'receipt-help', text: S.t('outcome.receipt.help')}),
              el('div', {class: 'actions actions-compact'}, copy, print,
                 // The fragment is never sent to a server; receipt.js reads and checks it.
                 el('a', {
                   class: 'button button-link',
                   id: 'receipt-check',
                   href: 'receipt.html#' + encodeURIComponent(o.receipt),
                 },
                    S.t('outcome.receipt.check')))));
        }
        break;
      }
      case 'duplicate':
        live.append(heading('outcome.duplicate.h'), para('outcome.duplicate.body', {law}));
        if (o.attempt_count) {
          live.append(el('p', {class: 'attempts'}, S.tNodes('outcome.duplicate.count', {
            n: el('strong', {id: 'attempt-count', text: S.formatNumber(o.attempt_count)}),
          })));
        }
        live.append(para('outcome.duplicate.advice'));
        break;
      case 'invalid':
        live.append(heading('outcome.invalid.h'), para('outcome.invalid.body', {law}));
        break;
      case 'closed': {
        const info = lawById(o.law_id);
        live.append(heading('outcome.closed.h'));
        if (info) {
          live.append(para('outcome.closed.body', {
            law,
            opens: S.formatDateTime(info.opens_at),
            closes: S.formatDateTime(info.closes_at),
          }));
        } else {
          live.append(para('outcome.closed.body.nolaw', {law}));
        }
        break;
      }
      case 'busy':
      case 'unavailable':
        live.append(heading('outcome.' + o.kind + '.h'), para('outcome.' + o.kind + '.body'));
        break;
      case 'network':
      case 'refused':
      case 'unknown':
        live.append(heading('outcome.' + o.kind + '.h'), para('outcome.' + o.kind + '.body'));
        break;
      case 'error':
        live.append(heading('outcome.error.h'), para('outcome.error.body', {code: o.code}));
        break;
      case 'slow':
        live.append(heading('outcome.slow.h'), para('outcome.slow.body'));
        break;
      default:
        break;
    }

    if (o.request_id && ['slow', 'reconnecting', 'unknown', 'pending'].includes(o.kind)) {
      extra.append(
          el('p', {class: 'request-id'}, S.t('outcome.request'), ' ',
             el('code', {text: o.request_id})));
    }

    const button = (key, handler, secondary) => {
      const b =
          el('button', {
            type: 'button',
            class: 'button' + (secondary ? ' button-secondary' : ''),
          },
             S.t(key));
      b.addEventListener('click', handler);
      actions.append(b);
      return b;
    };
    const resultsLink = () => actions.append(
        el('a', {class: 'button button-link', href: 'results.html'}, S.t('outcome.results')));

    switch (o.kind) {
      case 'accepted':
      case 'duplicate':
        button('outcome.another', startOver);
        resultsLink();
        break;
      case 'invalid':
      case 'network':
      case 'refused':
      case 'error':
        button('outcome.retry', () => returnToForm({}));
        button('outcome.another', startOver, true);
        break;
      case 'closed':
      case 'unknown':
        button('outcome.another', startOver);
        break;
      case 'busy':
      case 'unavailable': {
        const retry = button('outcome.retry', () => returnToForm({}));
        const note = el('p', {class: 'countdown'});
        extra.append(note);
        startCountdown(o.retry_at, note, retry);
        break;
      }
      case 'slow': {
        button('outcome.check', () => {
          setOutcome({kind: 'pending', law_id: o.law_id, request_id: o.request_id});
          pollStatus(o.request_id, o.law_id);
        });
        button('outcome.another', startOver, true);
        break;
      }
      default:
        break;
    }
  }

  // Keeps the retry button disabled until Retry-After has elapsed, showing the seconds left.
  function startCountdown(retryAt, note, retryButton) {
    const tick = () => {
      const left = Math.ceil((retryAt - Date.now()) / 1000);
      if (left > 0) {
        note.textContent = S.t('outcome.wait', {s: S.formatNumber(left)});
        retryButton.disabled = true;
        return;
      }
      note.textContent = S.t('outcome.wait.done');
      const wasDisabled = retryButton.disabled;
      retryButton.disabled = false;
      stopCountdown();
      if (wasDisabled) announce(S.t('outcome.wait.done'));
    };
    tick();
    if (retryButton.disabled) state.countdownTimer = setInterval(tick, 1000);
  }

  async function copyReceipt(receipt) {
    try {
      await navigator.clipboard.writeText(receipt);
      announce(S.t('outcome.copied'));
    } catch (e) {
      // Clipboard refused (permissions, insecure context): the receipt stays selectable on screen.
      const node = document.querySelector('#receipt code');
      if (node) window.getSelection().selectAllChildren(node);
    }
  }

  // ---- Wiring --------------------------------------------------------------------------------

  function onLanguageChange() {
    $('announcer').textContent = '';  // A stale announcement must not linger in the old language.
    renderLaws();
    renderFieldErrors(false);
    if (state.step === 'review') renderReview();
    if (state.step === 'outcome') renderOutcome();
  }

  function init() {
    S.initPage();
    S.onLangChange(onLanguageChange);
    $('nas').addEventListener('input', maskNas);
    $('nas').addEventListener('blur', onNasBlur);
    $('code').addEventListener('input', maskCode);
    $('vote-form').addEventListener('submit', onContinue);
    $('confirm').addEventListener('click', onConfirm);
    $('back').addEventListener('click', onBack);
    $('law-retry').addEventListener('click', loadLaws);
    document.querySelectorAll('input[name="vote"]')
        .forEach(
            (r) => r.addEventListener(
                'change', () => state.fieldErrors.vote && clearFieldError('vote')));
    $('law-options').addEventListener('change', () => {
      if (state.fieldErrors.law_id) clearFieldError('law_id');
    });
    // Windows open and close while the page stays open: refresh the law states now and then.
    setInterval(() => {
      if (state.step === 'form' && state.lawsStatus === 'ok') renderLaws();
    }, LAW_REFRESH_MS);
    // Never leave a NAS or code in a page the browser keeps in its back/forward cache.
    const clearCredential = () => {
      $('nas').value = '';
      $('code').value = '';
    };
    window.addEventListener('pagehide', clearCredential);
    window.addEventListener('pageshow', (ev) => ev.persisted && clearCredential());
    showStep('form');
    loadLaws();
  }

  init();
})();
