// The ExperimentEtl dashboard: plain browser JavaScript, no build step.
// It only ever asks the API for the summary and for pages of users, so it stays fast at millions of users.

const PAGE_SIZE = 25;
// A search page of the API looks through a bounded number of users (10,000), so a rare name can leave it short or
// empty with more to come: the dashboard asks again, up to this many times (a million users), to fill its page.
const MAX_SEARCH_REQUESTS = 100;
const SEARCH_DELAY_MS = 300;
const POLL_MS = 500;
const MAX_POLL_FAILURES = 10; // consecutive failed polls before giving up on a run
const MAX_FOLLOW_MS = 2 * 60 * 60 * 1000; // stop polling a run after two hours (it can be followed again)
const API_KEY_STORAGE = 'experiment-etl.api-key';

const $ = (selector) => document.querySelector(selector);

const numberFormat = new Intl.NumberFormat();
const averageFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const compactFormat = new Intl.NumberFormat(undefined, { notation: 'compact' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

const el = {
  pageStatus: $('#page-status'),
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
  emptyState: $('#empty-state'),
  dashboard: $('#dashboard'),
  search: $('#user-search'),
  usersBody: $('#users-table tbody'),
  usersTable: $('#users-table'),
  usersEmpty: $('#users-empty'),
  pagePrev: $('#page-prev'),
  pageNext: $('#page-next'),
  pageInfo: $('#users-page-info'),
};

const state = {
  summary: null,
  charts: {},
  // Keyset paging: cursors[i] is the URL of page i; "next" comes from the API, "previous" pops the stack.
  users: { query: '', cursors: [], page: 0, next: null, controller: null, timer: null },
  run: { id: null, timer: null, startedAt: 0, failures: 0, lastStatus: null, busy: false },
};

// ---------------------------------------------------------------- helpers

function text(tag, content, className) {
  const node = document.createElement(tag);
  if (content !== undefined && content !== null) node.textContent = content;
  if (className) node.className = className;
  return node;
}

function formatNumber(value) {
  return value === null || value === undefined ? '–' : numberFormat.format(value);
}

function formatTime(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : dateTimeFormat.format(date);
}

/** The words of an RFC 9457 problem body, or a fallback. */
function problemText(body, status) {
  if (body && typeof body === 'object' && (body.title || body.detail)) {
    return body.detail ? `${body.title ?? 'Error'}: ${body.detail}` : body.title;
  }
  return `The server answered ${status}.`;
}

async function getJson(url, signal) {
  let response = await fetch(url, { headers: { Accept: 'application/json' }, signal });
  // A busy server (too many reads at once) or one still preparing its database says when to come back: twice at most.
  for (let retries = 0; response.status === 503 && retries < 2; retries++) {
    const seconds = Number(response.headers.get('Retry-After'));
    if (!(seconds > 0 && seconds <= 5)) break;
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    signal?.throwIfAborted();
    response = await fetch(url, { headers: { Accept: 'application/json' }, signal });
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(problemText(body, response.status));
    error.status = response.status;
    throw error;
  }
  return body;
}

function apiKey() {
  return el.apiKey.value.trim();
}

function setPageStatus(message) {
  el.pageStatus.textContent = message;
  el.pageStatus.hidden = !message;
}

// ---------------------------------------------------------------- summary, figures and charts

async function loadSummary() {
  let summary;
  try {
    summary = await getJson('/api/summary');
  } catch (error) {
    setPageStatus(`Could not load the summary. ${error.message}`);
    return null;
  }
  setPageStatus('');
  state.summary = summary;
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
  setFigure('#fig-average', summary.average_experiment_count === null ? '–' : averageFormat.format(summary.average_experiment_count));
  setFigure('#fig-average-active',
    summary.average_experiment_count_active_users === null ? '–' : averageFormat.format(summary.average_experiment_count_active_users));
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

function statusBadge(status) {
  return text('span', status, `badge badge--${status}`);
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

/** Exact counts per number of experiments → bins 0, 1, 2, 3–4, 5–8, 9–16, … (every bin up to the largest shown). */
export function binHistogram(rows) {
  const max = rows.reduce((m, row) => Math.max(m, row.experiments), 0);
  const binOf = (n) => (n <= 1 ? n : 1 + (32 - Math.clz32(n - 1)));
  const bins = [];
  for (let k = 0; k <= binOf(max); k++) {
    const lo = k <= 1 ? k : 2 ** (k - 2) + 1;
    const hi = k <= 1 ? k : 2 ** (k - 1);
    const short = (n) => (n < 10_000 ? String(n) : compactFormat.format(n));
    bins.push({
      label: lo === hi ? String(lo) : `${short(lo)}–${short(hi)}`,
      range: lo === hi ? formatNumber(lo) : `${formatNumber(lo)} to ${formatNumber(hi)}`,
      users: 0,
    });
  }
  for (const row of rows) bins[binOf(row.experiments)].users += row.users;
  return bins;
}

function cssColor(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function chartOptions({ horizontal, xTitle, yTitle, tooltipTitle, tooltipLabel }) {
  const grid = cssColor('--grid');
  const countAxis = { beginAtZero: true, ticks: { precision: 0, maxRotation: 0 }, grid: { color: grid }, title: { display: false } };
  const categoryAxis = { grid: { display: false }, ticks: { autoSkip: false } };
  const x = horizontal ? countAxis : categoryAxis;
  const y = horizontal ? categoryAxis : countAxis;
  if (xTitle) x.title = { display: true, text: xTitle };
  if (yTitle) y.title = { display: true, text: yTitle };
  return {
    indexAxis: horizontal ? 'y' : 'x',
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    scales: { x, y },
    plugins: {
      legend: { display: false },
      tooltip: { callbacks: { title: tooltipTitle, label: tooltipLabel } },
    },
  };
}

function drawChart(id, labels, values, color, options, describe) {
  const canvas = document.getElementById(id);
  if (typeof window.Chart !== 'function') {
    canvas.parentElement.replaceChildren(text('p', 'Charts are unavailable (the chart library did not load).', 'hint'));
    return;
  }
  let chart = state.charts[id];
  if (!chart) {
    chart = new window.Chart(canvas, {
      type: 'bar',
      data: { labels: [], datasets: [{ data: [], backgroundColor: color, borderRadius: 3, maxBarThickness: 36 }] },
      options,
    });
    state.charts[id] = chart;
  }
  chart.data.labels = labels;
  chart.data.datasets[0].data = values;
  chart.update();
  canvas.setAttribute('aria-label', describe);
  canvas.dataset.points = String(values.length);
}

function renderCharts(summary) {
  if (typeof window.Chart === 'function') {
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.color = cssColor('--muted');
  }
  const users = summary.top_users ?? [];
  drawChart(
    'chart-users',
    users.map((u) => u.name),
    users.map((u) => u.experiments),
    cssColor('--chart-1'),
    chartOptions({
      horizontal: true,
      xTitle: 'experiments',
      tooltipTitle: (items) => items.map((i) => `${users[i.dataIndex].name} (user ${users[i.dataIndex].user_id})`),
      tooltipLabel: (item) => `${formatNumber(item.parsed.x)} experiments`,
    }),
    `Bar chart of the ${users.length} users with the most experiments: ` + users.map((u) => `${u.name} ${u.experiments}`).join(', '),
  );

  const compounds = summary.top_compounds ?? [];
  drawChart(
    'chart-compounds',
    compounds.map((c) => c.name),
    compounds.map((c) => c.experiments),
    cssColor('--chart-2'),
    chartOptions({
      horizontal: true,
      xTitle: 'experiments',
      tooltipTitle: (items) => items.map((i) => `${compounds[i.dataIndex].name} · ${compounds[i.dataIndex].structure}`),
      tooltipLabel: (item) => `${formatNumber(item.parsed.x)} experiments by ${formatNumber(compounds[item.dataIndex].users)} users`,
    }),
    `Bar chart of the ${compounds.length} most used compounds: ` + compounds.map((c) => `${c.name} ${c.experiments} experiments`).join(', '),
  );

  const bins = binHistogram(summary.experiments_per_user ?? []);
  drawChart(
    'chart-histogram',
    bins.map((b) => b.label),
    bins.map((b) => b.users),
    cssColor('--chart-3'),
    {
      ...chartOptions({
        horizontal: false,
        xTitle: 'experiments',
        yTitle: 'users',
        tooltipTitle: (items) => items.map((i) => `${bins[i.dataIndex].range} experiments`),
        tooltipLabel: (item) => `${formatNumber(item.parsed.y)} users`,
      }),
      datasets: { bar: { categoryPercentage: 0.95, barPercentage: 0.95 } },
    },
    'Histogram of experiments per user: ' + bins.map((b) => `${b.label} experiments: ${b.users} users`).join(', '),
  );
}

// ---------------------------------------------------------------- users table

function firstPageUrl(query) {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (query) params.set('q', query);
  return `/api/users?${params}`;
}

function resetUsers() {
  state.users.cursors = [firstPageUrl(state.users.query)];
  state.users.page = 0;
  return loadUsersPage();
}

async function loadUsersPage() {
  const users = state.users;
  users.controller?.abort();
  const controller = new AbortController();
  users.controller = controller;
  el.usersTable.setAttribute('aria-busy', 'true');
  let page;
  const rows = [];
  try {
    page = await getJson(users.cursors[users.page], controller.signal);
    rows.push(...page.users);
    for (let requests = 1; users.query && rows.length < PAGE_SIZE && page.next && requests < MAX_SEARCH_REQUESTS; requests++) {
      page = await getJson(withLimit(page.next, PAGE_SIZE - rows.length), controller.signal);
      rows.push(...page.users);
    }
  } catch (error) {
    if (error.name === 'AbortError') return;
    el.usersTable.removeAttribute('aria-busy');
    el.usersBody.replaceChildren();
    el.usersEmpty.textContent = `Could not load the users. ${error.message}`;
    el.usersEmpty.hidden = false;
    users.next = null;
    updatePager(0);
    return;
  }
  if (controller !== users.controller) return; // a newer request superseded this one
  users.controller = null;
  users.next = page.next && withLimit(page.next, PAGE_SIZE);
  el.usersTable.removeAttribute('aria-busy');
  el.usersBody.replaceChildren(...rows.map(userRow));
  if (rows.length === 0) {
    el.usersEmpty.textContent = !users.query ? 'No users.'
      : users.next ? `No name contains “${users.query}” among the users looked through so far; Next looks further.`
      : `No user's name contains “${users.query}”.`;
    el.usersEmpty.hidden = false;
  } else {
    el.usersEmpty.hidden = true;
  }
  updatePager(rows.length);
}

function withLimit(url, limit) {
  const [path, query] = url.split('?');
  const params = new URLSearchParams(query);
  params.set('limit', String(limit));
  return `${path}?${params}`;
}

function userRow(user) {
  const row = document.createElement('tr');
  const cells = [
    text('td', String(user.user_id), 'num'),
    text('th', user.name),
    text('td', user.email, 'email'),
    text('td', user.signup_date, 'nowrap signup'),
    text('td', formatNumber(user.total_experiments), 'num'),
    favouriteCell(user),
  ];
  cells[1].scope = 'row';
  row.append(...cells);
  return row;
}

function favouriteCell(user) {
  const cell = document.createElement('td');
  const favourite = user.favorite_compound;
  if (!favourite) {
    cell.append(text('span', '—', 'muted'), text('span', 'none', 'visually-hidden'));
    return cell;
  }
  cell.append(text('span', favourite.name));
  const count = text('span', ` · ${formatNumber(favourite.experiments)} exp.`, 'muted');
  count.title = `${favourite.name} (${favourite.structure}) was used in ${favourite.experiments} of this user's experiments`;
  cell.append(count);
  const others = (user.tied_favorites ?? []).filter((c) => c.compound_id !== favourite.compound_id);
  if (others.length > 0) {
    const tie = text('span', `+${others.length} tied`, 'tie');
    tie.title = `Tied with ${others.map((c) => c.name).join(', ')}`;
    cell.append(' ', tie, text('span', ` (with ${others.map((c) => c.name).join(', ')})`, 'visually-hidden'));
  }
  return cell;
}

function updatePager(rows) {
  const users = state.users;
  el.pagePrev.disabled = users.page === 0;
  el.pageNext.disabled = !users.next;
  if (rows === 0) {
    el.pageInfo.textContent = users.page === 0 ? '' : `Page ${users.page + 1}`;
    return;
  }
  const first = users.page * PAGE_SIZE + 1;
  const last = first + rows - 1;
  const range = first === last ? `${formatNumber(first)}` : `${formatNumber(first)}–${formatNumber(last)}`;
  if (users.query) {
    el.pageInfo.textContent = `Page ${users.page + 1} · matches ${range}`;
  } else {
    const total = state.summary?.users;
    el.pageInfo.textContent = `Page ${users.page + 1} · users ${range}${total ? ` of ${formatNumber(total)}` : ''}`;
  }
}

el.pageNext.addEventListener('click', () => {
  const users = state.users;
  if (!users.next) return;
  users.cursors.length = users.page + 1;
  users.cursors.push(users.next);
  users.page += 1;
  loadUsersPage();
});

el.pagePrev.addEventListener('click', () => {
  const users = state.users;
  if (users.page === 0) return;
  users.page -= 1;
  users.cursors.length = users.page + 1;
  loadUsersPage();
});

el.search.addEventListener('input', () => {
  clearTimeout(state.users.timer);
  state.users.timer = setTimeout(() => {
    const query = el.search.value.trim();
    if (query === state.users.query) return;
    state.users.query = query;
    resetUsers();
  }, SEARCH_DELAY_MS);
});

// ---------------------------------------------------------------- runs

function selectedMode() {
  return document.querySelector('input[name="mode"]:checked')?.value ?? 'strict';
}

function setRunBusy(busy) {
  state.run.busy = busy;
  for (const button of [el.runFolder, el.emptyRun, el.runUpload]) button.disabled = busy;
}

function setRunStatus(...parts) {
  el.runStatus.replaceChildren(...parts);
}

function resetRunView(message) {
  el.runView.hidden = false;
  el.runProgress.value = 0;
  el.runProgress.removeAttribute('value'); // indeterminate until the first figures arrive
  el.runPercent.textContent = '';
  el.runFiles.hidden = true;
  el.runErrors.hidden = true;
  el.runView.dataset.status = 'starting';
  setRunStatus(message);
}

/** POSTs a run (no body: the data folder; a FormData: an upload) through XHR, which reports upload progress. */
function postRun(formData) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/etl/runs?mode=${encodeURIComponent(selectedMode())}`);
    xhr.setRequestHeader('Accept', 'application/json');
    const key = apiKey();
    if (key) xhr.setRequestHeader('X-Api-Key', key);
    if (formData) {
      xhr.upload.addEventListener('progress', (event) => {
        if (!event.lengthComputable) return;
        const percent = Math.floor((event.loaded / event.total) * 100);
        el.runProgress.value = percent;
        el.runPercent.textContent = `uploading ${percent} %`;
      });
    }
    xhr.addEventListener('load', () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      resolve({ status: xhr.status, body });
    });
    xhr.addEventListener('error', () => resolve({ status: 0, body: null }));
    xhr.addEventListener('abort', () => resolve({ status: 0, body: null }));
    xhr.send(formData ?? null);
  });
}

async function startRun(formData) {
  if (state.run.busy) return;
  stopFollowing();
  setRunBusy(true);
  resetRunView(formData ? 'Uploading the files…' : 'Starting a run on the data folder…');
  const { status, body } = await postRun(formData);
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
  clearTimeout(state.run.timer);
  state.run.timer = null;
  state.run.id = null;
}

function follow(runId, initial) {
  stopFollowing();
  Object.assign(state.run, { id: runId, startedAt: Date.now(), failures: 0, lastStatus: null });
  setRunBusy(true);
  el.runView.hidden = false;
  if (initial && renderRun(initial)) return;
  state.run.timer = setTimeout(() => poll(runId), POLL_MS);
}

async function poll(runId) {
  if (state.run.id !== runId) return;
  let run = null;
  try {
    run = await getJson(`/api/etl/runs/${runId}`);
  } catch (error) {
    if (state.run.id !== runId) return;
    state.run.failures += 1;
    if (error.status === 404 || state.run.failures >= MAX_POLL_FAILURES) {
      giveUp(runId, `Lost track of the run: ${error.message}`);
      return;
    }
  }
  if (state.run.id !== runId) return;
  if (run) {
    state.run.failures = 0;
    if (renderRun(run)) return;
  }
  if (Date.now() - state.run.startedAt > MAX_FOLLOW_MS) {
    giveUp(runId, 'Still running after two hours; stopped following it.');
    return;
  }
  state.run.timer = setTimeout(() => poll(runId), POLL_MS);
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

const ACTIVE = new Set(['queued', 'running']);

/** Shows a run's state; returns true once the run has ended (and handles the end). */
function renderRun(run) {
  const percent = Math.round((run.progress ?? 0) * 100);
  el.runProgress.value = percent;
  el.runPercent.textContent = `${percent} %`;
  el.runView.dataset.status = run.status;
  renderRunFiles(run.files ?? [], run.status);
  if (ACTIVE.has(run.status)) {
    // The live region only changes when the phase does, so screen readers are not flooded every 500 ms.
    if (state.run.lastStatus !== run.status) {
      setRunStatus(run.status === 'queued' ? 'Queued: waiting to start…' : `Running (${run.mode})…`);
    }
    state.run.lastStatus = run.status;
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
  const duration = run.duration_seconds === null || run.duration_seconds === undefined ? '' : ` in ${averageFormat.format(run.duration_seconds)} s`;
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

async function refreshData() {
  const summary = await loadSummary();
  // Back to the first page (the data may have changed), keeping the search.
  if (summary?.loaded_at) await resetUsers();
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

// ---------------------------------------------------------------- start

async function init() {
  setPageStatus('Loading…');
  const summary = await loadSummary();
  if (summary?.loaded_at) await resetUsers();
  const last = summary?.last_run;
  if (last && ACTIVE.has(last.status)) {
    resetRunView('Following the run in progress…');
    follow(last.run_id, last);
  }
  document.body.dataset.ready = 'true';
}

init();
