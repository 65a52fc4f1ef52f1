// "Since the last load": what the newest load changed against the data set it replaced (GET /api/etl/runs/{id}/changes),
// and the lists behind its figures (…/changes/users|compounds|experiments?kind=…), a page at a time, shown in the panel.

import { getJson } from './api.js';
import { $, formatAverage, formatNumber, formatTime, text } from './format.js';

const PAGE_SIZE = 25;

const el = {
  panel: $('#changes'),
  when: $('#changes-when'),
  status: $('#changes-status'),
  tableBody: $('#changes-table tbody'),
  fav: $('#changes-fav'),
  count: $('#changes-count'),
  average: $('#changes-average'),
  unlisted: $('#changes-unlisted'),
  list: $('#change-list'),
  listHeading: $('#change-list-heading'),
  listCaption: $('#change-list-table caption'),
  listTable: $('#change-list-table'),
  listBody: $('#change-list-table tbody'),
  listStatus: $('#change-list-status'),
  listMore: $('#change-list-more'),
  listClose: $('#change-list-close'),
};

const TABLES = [
  { name: 'users', label: 'Users', one: 'user', id: 'user_id' },
  { name: 'compounds', label: 'Compounds', one: 'compound', id: 'compound_id' },
  { name: 'experiments', label: 'Experiments', one: 'experiment', id: 'experiment_id' },
];

// How each list's entries read: the fields of a row, in order. `key` compares, `show` is what the reader sees.
const FIELDS = {
  users: [
    { label: 'name', show: (v) => v.name },
    { label: 'email', show: (v) => v.email },
    { label: 'signed up', show: (v) => v.signup_date },
    { label: 'experiments', show: (v) => formatNumber(v.experiment_count) },
    { label: 'favourite', key: (v) => v.fav_compound_id, show: (v) => v.fav_compound_name ?? 'none' },
  ],
  compounds: [
    { label: 'name', show: (v) => v.name },
    { label: 'structure', show: (v) => v.structure },
  ],
  experiments: [
    { label: 'user', show: (v) => String(v.user_id) },
    { label: 'compounds', key: (v) => v.compound_ids.join(','), show: (v) => v.compound_ids.join(', ') },
    { label: 'run time', show: (v) => formatNumber(v.run_time) },
  ],
};

const KIND_TITLES = {
  added: (t) => `${t.label} added`,
  removed: (t) => `${t.label} removed`,
  changed: (t) => `${t.label} changed`,
  fav_compound_changed: () => 'Users whose favourite compound moved',
  count_changed: () => 'Users whose experiment count changed',
};

// The load shown, and the list open in it (a newer request supersedes an older one through `request`).
const state = { runId: null, open: null, next: null, request: 0 };

/** Shows the newest of the loads (newest first, from /api/history); `loads` empty hides the panel. */
export async function renderChanges(loads) {
  const latest = loads[0];
  if (!latest) {
    el.panel.hidden = true;
    return;
  }
  el.panel.hidden = false;
  const previous = loads.find((load) => load.run_id === latest.previous_run_id);
  el.when.textContent = latest.previous_run_id === null
    ? `Load of ${formatTime(latest.loaded_at)}`
    : `Load of ${formatTime(latest.loaded_at)}, against ${previous ? `the load of ${formatTime(previous.loaded_at)}` : 'the load before it'}`;
  if (state.runId !== latest.run_id) closeList();
  state.runId = latest.run_id;

  const unlisted = new Set(latest.unlisted ?? []);
  renderCounts(latest, unlisted);
  el.unlisted.hidden = unlisted.size === 0;
  el.unlisted.textContent = unlisted.size === 0 ? ''
    : `More rows changed in ${[...unlisted].join(' and ')} than the server keeps lists for (ETL_CHANGE_LIST_LIMIT): only the counts are shown.`;
  setChangesStatus(latest.previous_run_id === null ? 'This is the first load: everything in it was added.' : '');

  // The average before the load comes with the load's own changes.
  const runId = latest.run_id;
  el.average.textContent = formatAverageOrDash(latest.average_experiment_count);
  try {
    const change = await getJson(`/api/etl/runs/${runId}/changes`);
    if (state.runId !== runId) return;
    const { before, after } = change.average_experiment_count;
    el.average.textContent = before === null ? formatAverageOrDash(after) : `${formatAverageOrDash(before)} → ${formatAverageOrDash(after)}`;
  } catch (error) {
    if (state.runId !== runId) return;
    setChangesStatus(`Could not load this load's changes. ${error.message}`);
  }
}

/** A message in the panel (errors, the first load), or none. */
export function setChangesStatus(message) {
  el.status.textContent = message;
  el.status.hidden = !message;
}

function formatAverageOrDash(value) {
  return value === null || value === undefined ? '–' : formatAverage(value);
}

function renderCounts(load, unlisted) {
  const changes = load.changes;
  el.tableBody.replaceChildren(
    ...TABLES.map((table) => {
      const counts = changes[table.name];
      const row = document.createElement('tr');
      const name = text('th', table.label);
      name.scope = 'row';
      row.append(name);
      for (const kind of ['added', 'removed', 'changed']) {
        const cell = text('td', null, 'num');
        cell.append(figure(table, kind, counts[kind], unlisted));
        row.append(cell);
      }
      row.append(text('td', formatNumber(counts.unchanged), 'num'));
      return row;
    }),
  );
  const users = TABLES[0];
  el.fav.replaceChildren(figure(users, 'fav_compound_changed', changes.fav_compound_changed, unlisted));
  el.count.replaceChildren(figure(users, 'count_changed', changes.count_changed, unlisted));
  markOpenFigure();
}

/** A count; a link that opens its list when there is one to show. */
function figure(table, kind, count, unlisted) {
  if (!(count > 0) || unlisted.has(table.name)) return document.createTextNode(formatNumber(count));
  const link = text('a', formatNumber(count), 'changes__figure');
  link.href = listUrl(table, kind);
  link.dataset.table = table.name;
  link.dataset.kind = kind;
  link.setAttribute('aria-label', `${formatNumber(count)}: show the ${KIND_TITLES[kind](table).toLowerCase()}`);
  link.addEventListener('click', (event) => {
    event.preventDefault();
    openList(table, kind, count);
  });
  return link;
}

function listUrl(table, kind) {
  const params = new URLSearchParams({ kind, limit: String(PAGE_SIZE) });
  return `/api/etl/runs/${state.runId}/changes/${table.name}?${params}`;
}

function markOpenFigure() {
  for (const link of el.panel.querySelectorAll('.changes__figure')) {
    const open = state.open && link.dataset.table === state.open.table.name && link.dataset.kind === state.open.kind;
    if (open) link.setAttribute('aria-current', 'true');
    else link.removeAttribute('aria-current');
  }
}

function openList(table, kind, count) {
  state.open = { table, kind };
  const title = `${KIND_TITLES[kind](table)} (${formatNumber(count)})`;
  el.listHeading.textContent = title;
  el.listCaption.textContent = `${title}: each with its values before and after the load`;
  el.listBody.replaceChildren();
  el.list.hidden = false;
  markOpenFigure();
  el.listHeading.focus();
  loadPage(listUrl(table, kind));
}

function closeList() {
  state.request += 1;
  state.open = null;
  state.next = null;
  el.list.hidden = true;
  el.listBody.replaceChildren();
  markOpenFigure();
}

async function loadPage(url) {
  const request = ++state.request;
  const { table } = state.open;
  el.listMore.hidden = true;
  el.listTable.setAttribute('aria-busy', 'true');
  el.listStatus.textContent = 'Loading…';
  let page;
  try {
    page = await getJson(url);
  } catch (error) {
    if (request !== state.request) return;
    el.listTable.removeAttribute('aria-busy');
    el.listStatus.textContent = error.status === 410 ? `This list was not kept. ${error.message}` : `Could not load the list. ${error.message}`;
    return;
  }
  if (request !== state.request) return;
  el.listTable.removeAttribute('aria-busy');
  const entries = page[table.name] ?? [];
  el.listBody.append(...entries.map((entry) => entryRow(table, entry)));
  const shown = el.listBody.rows.length;
  el.listStatus.textContent = shown === 0 ? 'None.' : `Showing ${formatNumber(shown)}.`;
  state.next = page.next ? sameOrigin(page.next) : null;
  el.listMore.hidden = !state.next;
  if (state.next) el.listMore.href = state.next;
}

/** The path and query of a `next` link: the page asks its own origin, whatever host the server saw. */
function sameOrigin(url) {
  const parsed = new URL(url, window.location.href);
  return parsed.pathname + parsed.search;
}

function entryRow(table, entry) {
  const row = document.createElement('tr');
  const id = text('th', String(entry[table.id]), 'num');
  id.scope = 'row';
  const fields = FIELDS[table.name];
  // Both sides: only the fields that differ (all of them if none does); one side: the whole row.
  let shown = fields;
  if (entry.before && entry.after) {
    const differ = fields.filter((f) => fieldKey(f, entry.before) !== fieldKey(f, entry.after));
    if (differ.length > 0) shown = differ;
  }
  row.append(id, valuesCell(shown, entry.before, 'new'), valuesCell(shown, entry.after, 'removed'));
  return row;
}

function fieldKey(field, value) {
  return String(field.key ? field.key(value) : field.show(value));
}

function valuesCell(fields, value, absent) {
  const cell = document.createElement('td');
  if (!value) {
    cell.append(text('span', `— ${absent}`, 'muted'));
    return cell;
  }
  const list = text('ul', null, 'values');
  for (const field of fields) {
    const item = document.createElement('li');
    item.append(text('span', `${field.label} `, 'values__label'), text('span', field.show(value), 'values__value'));
    list.append(item);
  }
  cell.append(list);
  return cell;
}

el.listMore.addEventListener('click', (event) => {
  event.preventDefault();
  if (state.next && state.open) loadPage(state.next);
});
el.listClose.addEventListener('click', () => {
  const focusBack = state.open && el.panel.querySelector(`.changes__figure[aria-current="true"]`);
  closeList();
  focusBack?.focus();
});
