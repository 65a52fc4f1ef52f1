// The ExperimentEtl dashboard: plain browser JavaScript in ES modules, no build step.
// It only ever asks the API for the summary, the recent loads and pages (of users, of a load's changes), so it stays fast at
// millions of users.
// format.js: formatting and DOM helpers · api.js: calls to the API · summary.js and charts.js: the figures and charts ·
// history.js: the history of loads, shown by changes.js (what the newest load changed, and its lists) and
// history-chart.js (the figures over the loads) · users.js: the users table · runs.js: starting and following runs.
// This module starts the page.

import { ACTIVE, follow, refreshData, resetRunView } from './runs.js';
import { setPageStatus } from './summary.js';

async function init() {
  setPageStatus('Loading…');
  const summary = await refreshData();
  const last = summary?.last_run;
  if (last && ACTIVE.has(last.status)) {
    resetRunView('Following the run in progress…');
    follow(last.run_id, last);
  }
  document.body.dataset.ready = 'true';
}

init();
