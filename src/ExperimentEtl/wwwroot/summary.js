// The figures at the top of the dashboard, the empty state and the page's status line, from GET /api/summary.

import { getJson } from './api.js';
import { renderCharts } from './charts.js';
import { $, formatAverage, formatNumber, formatTime, statusBadge, text } from './format.js';

const el = {
  pageStatus: $('#page-status'),
  emptyState: $('#empty-state'),
  dashboard: $('#dashboard'),
};

let current = null;

/** The summary last loaded, or null. */
export function currentSummary() {
  return current;
}

export function setPageStatus(message) {
  el.pageStatus.textContent = message;
  el.pageStatus.hidden = !message;
}

export async function loadSummary() {
  let summary;
  try {
    summary = await getJson('/api/summary');
  } catch (error) {
    setPageStatus(`Could not load the summary. ${error.message}`);
    return null;
  }
  setPageStatus('');
  current = summary;
  renderSummary(summary);
  return summary;
}

function renderSummary(summary) {
  const hasData = Boolean(summary.loaded_at);
  el.emptyState.hidden = hasData;
  el.dashboard.hidden = !hasData;
  if (!hasData) {
    renderEmptyState(summary.last_run);
    return;
  }
  setFigure('#fig-users', formatNumber(summary.users));
  setFigure('#fig-experiments', formatNumber(summary.experiments));
  setFigure('#fig-compounds', formatNumber(summary.compounds));
  setFigure('#fig-average', summary.average_experiment_count === null ? '–' : formatAverage(summary.average_experiment_count));
  setFigure('#fig-average-active',
    summary.average_experiment_count_active_users === null ? '–' : formatAverage(summary.average_experiment_count_active_users));
  renderLastRun($('#fig-last-run'), summary.last_run, summary.loaded_at);
  renderCharts(summary);
}

function setFigure(selector, value) {
  const target = $(selector);
  target.textContent = value;
  target.classList.toggle('figure__value--long', value.length > 7);
}

function renderEmptyState(lastRun) {
  let note = el.emptyState.querySelector('.empty-state__last');
  if (!lastRun) {
    note?.remove();
    return;
  }
  if (!note) {
    note = text('p', null, 'empty-state__last');
    el.emptyState.querySelector('p').after(note);
  }
  note.replaceChildren(
    'The last run ',
    statusBadge(lastRun.status),
    ` ${formatTime(lastRun.finished_at ?? lastRun.started_at)}.`,
  );
}

function renderLastRun(target, run, loadedAt) {
  if (!run) {
    target.replaceChildren(text('span', 'none'));
    return;
  }
  const time = document.createElement('time');
  time.dateTime = run.finished_at ?? run.started_at;
  time.textContent = formatTime(run.finished_at ?? run.started_at);
  const details = text('span', `${run.mode} · ${run.source === 'upload' ? 'upload' : 'data folder'}`, 'figure__note');
  const children = [statusBadge(run.status), ' ', time, details];
  if (loadedAt && run.status !== 'succeeded') {
    children.push(text('span', `data from ${formatTime(loadedAt)}`, 'figure__note'));
  }
  target.replaceChildren(...children);
}
