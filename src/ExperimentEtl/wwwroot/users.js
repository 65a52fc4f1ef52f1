// The users table: keyset pages of GET /api/users, the pager and the name search.

import { getJson } from './api.js';
import { $, formatNumber, text } from './format.js';
import { currentSummary } from './summary.js';

const PAGE_SIZE = 25;
// A search page of the API looks through a bounded number of users (10,000), so a rare name can leave it short or
// empty with more to come: the dashboard asks again, up to this many times (a million users), to fill its page.
const MAX_SEARCH_REQUESTS = 100;
const SEARCH_DELAY_MS = 300;

const el = {
  search: $('#user-search'),
  usersBody: $('#users-table tbody'),
  usersTable: $('#users-table'),
  usersEmpty: $('#users-empty'),
  pagePrev: $('#page-prev'),
  pageNext: $('#page-next'),
  pageInfo: $('#users-page-info'),
};

// Keyset paging: cursors[i] is the URL of page i; "next" comes from the API, "previous" pops the stack.
const users = { query: '', cursors: [], page: 0, next: null, controller: null, timer: null };

function firstPageUrl(query) {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (query) params.set('q', query);
  return `/api/users?${params}`;
}

/** Back to the first page, keeping the search. */
export function resetUsers() {
  users.cursors = [firstPageUrl(users.query)];
  users.page = 0;
  return loadUsersPage();
}

async function loadUsersPage() {
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
    const total = currentSummary()?.users;
    el.pageInfo.textContent = `Page ${users.page + 1} · users ${range}${total ? ` of ${formatNumber(total)}` : ''}`;
  }
}

el.pageNext.addEventListener('click', () => {
  if (!users.next) return;
  users.cursors.length = users.page + 1;
  users.cursors.push(users.next);
  users.page += 1;
  loadUsersPage();
});

el.pagePrev.addEventListener('click', () => {
  if (users.page === 0) return;
  users.page -= 1;
  users.cursors.length = users.page + 1;
  loadUsersPage();
});

el.search.addEventListener('input', () => {
  clearTimeout(users.timer);
  users.timer = setTimeout(() => {
    const query = el.search.value.trim();
    if (query === users.query) return;
    users.query = query;
    resetUsers();
  }, SEARCH_DELAY_MS);
});
