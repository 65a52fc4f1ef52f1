// The headline figures over the loads (from GET /api/history): users and experiments on the left axis, experiments per
// user on the right, oldest load first.

import { cssColor } from './charts.js';
import { formatAverage, formatNumber, formatTime, text } from './format.js';

const labelFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

let chart = null;

/** Draws the loads given newest first (as /api/history lists them). */
export function renderHistoryChart(newestFirst) {
  const loads = [...newestFirst].reverse();
  const canvas = document.getElementById('chart-history');
  if (typeof window.Chart !== 'function') {
    canvas.parentElement.replaceChildren(text('p', 'Charts are unavailable (the chart library did not load).', 'hint'));
    return;
  }
  if (!chart) chart = new window.Chart(canvas, { type: 'line', data: { labels: [], datasets: [] }, options: options() });
  chart.options.plugins.tooltip.callbacks.title = (items) => items.map((i) => formatTime(loads[i.dataIndex].loaded_at));
  chart.data.labels = loads.map((load) => labelFormat.format(new Date(load.loaded_at)));
  chart.data.datasets = [
    series('Users', loads.map((load) => load.users), cssColor('--chart-1'), 'count'),
    series('Experiments', loads.map((load) => load.experiments), cssColor('--chart-2'), 'count'),
    series('Experiments per user', loads.map((load) => load.average_experiment_count), cssColor('--chart-3'), 'average'),
  ];
  chart.update();
  canvas.dataset.points = String(loads.length);
  canvas.setAttribute('aria-label', `Line chart of the last ${loads.length} ${loads.length === 1 ? 'load' : 'loads'}, oldest first: ` +
    loads.map((load) => `${formatTime(load.loaded_at)}: ${formatNumber(load.users)} users, ${formatNumber(load.experiments)} experiments, ` +
      `${load.average_experiment_count === null ? 'no' : formatAverage(load.average_experiment_count)} experiments per user`).join('; '));
}

function series(label, data, color, axis) {
  return {
    label, data, yAxisID: axis, borderColor: color, backgroundColor: color,
    borderWidth: 2, pointRadius: 3, tension: 0, borderDash: axis === 'average' ? [5, 4] : [],
  };
}

function options() {
  const grid = cssColor('--grid');
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: 'index', intersect: false },
    scales: {
      x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true } },
      count: { position: 'left', beginAtZero: true, ticks: { precision: 0 }, grid: { color: grid } },
      average: { position: 'right', beginAtZero: true, grid: { display: false }, title: { display: true, text: 'per user' } },
    },
    plugins: {
      legend: { display: true, position: 'bottom', labels: { boxWidth: 12, boxHeight: 12 } },
      tooltip: {
        callbacks: {
          label: (item) => `${item.dataset.label}: ${item.dataset.yAxisID === 'average' ? formatAverage(item.parsed.y) : formatNumber(item.parsed.y)}`,
        },
      },
    },
  };
}
