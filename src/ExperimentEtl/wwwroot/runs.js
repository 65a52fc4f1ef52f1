// Runs: starting one (the data folder or an upload), following it by polling, and showing how it ended.

import { getJson, postRun, problemText } from './api.js';
import { $, formatAverage, formatNumber, text } from './format.js';
import { loadHistory } from './history.js';
import { loadSummary } from './summary.js';
import { resetUsers } from './users.js';

const POLL_MS = 500;
const MAX_POLL_FAILURES = 10; // consecutive failed polls before giving up on a run
const MAX_FOLLOW_MS = 2 * 60 * 60 * 1000; // stop polling a run after two hours (it can be followed again)
const API_KEY_STORAGE = 'experiment-etl.api-key';

const el = {
  runFolder: $('#run-folder'),
  emptyRun: $('#empty-run'),
  uploadForm: $('#upload-form'),
  runUpload: $('#run-upload'),
  apiKey: $('#api-key'),
  apiKeyDetails: $('#api-key-details'),
  runView: $('#run-view'),
  runProgress: $('#run-progress'),
  runPercent: $('#run-percent'),
  runStatus: $('#run-status'),
  runFiles: $('#run-files'),
  runErrors: $('#run-errors'),
};

// The run being followed.
const following = { id: null, timer: null, startedAt: 0, failures: 0, lastStatus: null, busy: false };

export const ACTIVE = new Set(['queued', 'running']);

function apiKey() {
  return el.apiKey.value.trim();
}

/** Reloads the summary and, when there is data, the history of loads and the users from their first page (keeping the search). */
export async function refreshData() {
  const summary = await loadSummary();
  // Back to the first page (the data may have changed), keeping the search.
  if (summary?.loaded_at) await Promise.all([loadHistory(), resetUsers()]);
  return summary;
}

function selectedMode() {
  return document.querySelector('input[name="mode"]:checked')?.value ?? 'strict';
}

function setRunBusy(busy) {
  following.busy = busy;
  for (const button of [el.runFolder, el.emptyRun, el.runUpload]) button.disabled = busy;
}

function setRunStatus(...parts) {
  el.runStatus.replaceChildren(...parts);
}

export function resetRunView(message) {
  el.runView.hidden = false;
  el.runProgress.value = 0;
  el.runProgress.removeAttribute('value'); // indeterminate until the first figures arrive
  el.runPercent.textContent = '';
  el.runFiles.hidden = true;
  el.runErrors.hidden = true;
  el.runView.dataset.status = 'starting';
  setRunStatus(message);
}

async function startRun(formData) {
  if (following.busy) return;
  stopFollowing();
  setRunBusy(true);
  resetRunView(formData ? 'Uploading the files…' : 'Starting a run on the data folder…');
  const { status, body } = await postRun(selectedMode(), formData, apiKey(), (percent) => {
    el.runProgress.value = percent;
    el.runPercent.textContent = `uploading ${percent} %`;
  });
  if (status === 202 || status === 200) {
    follow(body.run_id, body);
    return;
  }
  setRunBusy(false);
  el.runProgress.value = 0;
  el.runView.dataset.status = 'rejected';
  if (status === 409) {
    showConflict(body?.running_run_id);
  } else if (status === 401) {
    setRunStatus(problemText(body, status), ' Fill in the API key and try again.');
    el.apiKeyDetails.open = true;
    el.apiKey.focus();
  } else if (status === 0) {
    setRunStatus('Could not reach the server. Is it running?');
  } else {
    setRunStatus(problemText(body, status));
  }
}

function showConflict(runningRunId) {
  if (!runningRunId) {
    setRunStatus('A run is already in progress (on another server). Try again when it has finished.');
    return;
  }
  const link = text('a', 'Follow it');
  link.href = `/api/etl/runs/${runningRunId}`;
  link.addEventListener('click', (event) => {
    event.preventDefault();
    setRunBusy(true);
    resetRunView('Following the run in progress…');
    follow(runningRunId);
  });
  setRunStatus(text('strong', 'A run is already in progress.'), ' Only one run at a time can load data. ', link, '.');
}

function stopFollowing() {
  clearTimeout(following.timer);
  following.timer = null;
  following.id = null;
}

export function follow(runId, initial) {
  stopFollowing();
  Object.assign(following, { id: runId, startedAt: Date.now(), failures: 0, lastStatus: null });
  setRunBusy(true);
  el.runView.hidden = false;
  if (initial && renderRun(initial)) return;
  following.timer = setTimeout(() => poll(runId), POLL_MS);
}

async function poll(runId) {
  if (following.id !== runId) return;
  let run = null;
  try {
    run = await getJson(`/api/etl/runs/${runId}`);
  } catch (error) {
    if (following.id !== runId) return;
    following.failures += 1;
    if (error.status === 404 || following.failures >= MAX_POLL_FAILURES) {
      giveUp(runId, `Lost track of the run: ${error.message}`);
      return;
    }
  }
  if (following.id !== runId) return;
  if (run) {
    following.failures = 0;
    if (renderRun(run)) return;
  }
  if (Date.now() - following.startedAt > MAX_FOLLOW_MS) {
    giveUp(runId, 'Still running after two hours; stopped following it.');
    return;
  }
  following.timer = setTimeout(() => poll(runId), POLL_MS);
}

function giveUp(runId, message) {
  stopFollowing();
  setRunBusy(false);
  const link = text('a', 'Follow it again');
  link.href = `/api/etl/runs/${runId}`;
  link.addEventListener('click', (event) => {
    event.preventDefault();
    follow(runId);
  });
  setRunStatus(`${message} `, link, '.');
}

/** Shows a run's state; returns true once the run has ended (and handles the end). */
function renderRun(run) {
  const percent = Math.round((run.progress ?? 0) * 100);
  el.runProgress.value = percent;
  el.runPercent.textContent = `${percent} %`;
  el.runView.dataset.status = run.status;
  renderRunFiles(run.files ?? [], run.status);
  if (ACTIVE.has(run.status)) {
    // The live region only changes when the phase does, so screen readers are not flooded every 500 ms.
    if (following.lastStatus !== run.status) {
      setRunStatus(run.status === 'queued' ? 'Queued: waiting to start…' : `Running (${run.mode})…`);
    }
    following.lastStatus = run.status;
    return false;
  }
  finishRun(run);
  return true;
}

function renderRunFiles(files, status) {
  // A run that did not succeed committed nothing, whatever rows passed validation.
  const committed = status !== 'failed' && status !== 'cancelled';
  el.runFiles.hidden = files.length === 0;
  el.runFiles.querySelector('tbody').replaceChildren(
    ...files.map((f) => {
      const row = document.createElement('tr');
      const name = text('th', f.file);
      name.scope = 'row';
      row.append(name, text('td', formatNumber(f.rows_read), 'num'), text('td', committed ? formatNumber(f.rows_loaded) : '–', 'num'),
        text('td', formatNumber(f.rows_rejected), 'num'));
      return row;
    }),
  );
}

function finishRun(run) {
  stopFollowing();
  setRunBusy(false);
  const duration = run.duration_seconds === null || run.duration_seconds === undefined ? '' : ` in ${formatAverage(run.duration_seconds)} s`;
  if (run.status === 'succeeded') {
    const parts = [text('strong', 'Run succeeded'), `${duration}; the figures below are up to date.`];
    if (run.rejected_count > 0) {
      const link = text('a', 'see the rejected rows');
      link.href = `/api/etl/runs/${run.run_id}/rejects`;
      parts.push(` ${formatNumber(run.rejected_count)} invalid ${run.rejected_count === 1 ? 'row was' : 'rows were'} skipped: `, link, '.');
    }
    setRunStatus(...parts);
    refreshData();
    return;
  }
  if (run.status === 'cancelled') {
    setRunStatus(text('strong', 'Run cancelled'), `${duration}; nothing of it was loaded.`);
    refreshData();
    return;
  }
  const errors = run.errors ?? [];
  const count = run.error_count ?? errors.length;
  if (count > 0) {
    setRunStatus(text('strong', 'Run failed'), `: ${formatNumber(count)} ${count === 1 ? 'error' : 'errors'} in the input; nothing was loaded and the previous data is unchanged.`);
    renderErrors(errors, count);
  } else {
    setRunStatus(text('strong', 'Run failed'), `${duration}: ${run.message ?? 'no reason given'}`);
  }
  refreshData();
}

function describeError(error) {
  const where = error.line > 0 ? `${error.file} line ${error.line}` : `${error.file} (whole file)`;
  const what = error.column ? `${error.column}: ${error.message}` : error.message;
  const value = error.value !== null && error.value !== undefined && error.value !== '' ? ` (value "${error.value}")` : '';
  return `${where} · ${what}${value}`;
}

// The order a run reads the files in.
const FILE_ORDER = ['users.csv', 'compounds.csv', 'user_experiments.csv'];

function fileRank(file) {
  const rank = FILE_ORDER.indexOf(file);
  return rank < 0 ? FILE_ORDER.length : rank;
}

function renderErrors(errors, count) {
  const sorted = [...errors].sort((a, b) => fileRank(a.file) - fileRank(b.file) || a.file.localeCompare(b.file) || a.line - b.line);
  el.runErrors.querySelector('h3').textContent = `${formatNumber(count)} ${count === 1 ? 'error' : 'errors'} by file and line`;
  el.runErrors.querySelector('ol').replaceChildren(...sorted.map((e) => text('li', describeError(e))));
  const more = el.runErrors.querySelector('.run-errors__more');
  more.hidden = count <= errors.length;
  more.textContent = `Showing the first ${formatNumber(errors.length)} of ${formatNumber(count)} errors.`;
  el.runErrors.hidden = false;
}

el.runFolder.addEventListener('click', () => startRun(null));
el.emptyRun.addEventListener('click', () => startRun(null));
el.uploadForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (!el.uploadForm.reportValidity()) return;
  startRun(new FormData(el.uploadForm));
});

// The API key lives in this tab's sessionStorage only.
el.apiKey.value = sessionStorage.getItem(API_KEY_STORAGE) ?? '';
if (el.apiKey.value) el.apiKeyDetails.open = true;
$('#api-key-form').addEventListener('submit', (event) => event.preventDefault());
el.apiKey.addEventListener('input', () => {
  if (apiKey()) sessionStorage.setItem(API_KEY_STORAGE, apiKey());
  else sessionStorage.removeItem(API_KEY_STORAGE);
});
