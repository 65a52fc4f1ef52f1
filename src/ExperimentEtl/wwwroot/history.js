// The history of loads (GET /api/history, newest first): read once per refresh for the "Since the last load" panel and
// the chart of the figures over the loads.

import { getJson } from './api.js';
import { renderChanges, setChangesStatus } from './changes.js';
import { renderHistoryChart } from './history-chart.js';

// The chart's span: the last 20 loads.
const LOADS = 20;

let latestRequest = 0;

export async function loadHistory() {
  const request = ++latestRequest;
  let page;
  try {
    page = await getJson(`/api/history?limit=${LOADS}`);
  } catch (error) {
    if (request === latestRequest) setChangesStatus(`Could not load the history of loads. ${error.message}`);
    return;
  }
  if (request !== latestRequest) return; // a newer refresh superseded this one
  renderHistoryChart(page.loads);
  await renderChanges(page.loads);
}
