// The summary's three bar charts (Chart.js, vendored and loaded as a classic script before the modules run).

import { formatCompact, formatNumber, text } from './format.js';

const charts = {};

/** Exact counts per number of experiments → bins 0, 1, 2, 3–4, 5–8, 9–16, … (every bin up to the largest shown). */
export function binHistogram(rows) {
  const max = rows.reduce((m, row) => Math.max(m, row.experiments), 0);
  const binOf = (n) => (n <= 1 ? n : 1 + (32 - Math.clz32(n - 1)));
  const bins = [];
  for (let k = 0; k <= binOf(max); k++) {
    const lo = k <= 1 ? k : 2 ** (k - 2) + 1;
    const hi = k <= 1 ? k : 2 ** (k - 1);
    const short = (n) => (n < 10_000 ? String(n) : formatCompact(n));
    bins.push({
      label: lo === hi ? String(lo) : `${short(lo)}–${short(hi)}`,
      range: lo === hi ? formatNumber(lo) : `${formatNumber(lo)} to ${formatNumber(hi)}`,
      users: 0,
    });
  }
  for (const row of rows) bins[binOf(row.experiments)].users += row.users;
  return bins;
}

export function cssColor(name) {
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
  let chart = charts[id];
  if (!chart) {
    chart = new window.Chart(canvas, {
      type: 'bar',
      data: { labels: [], datasets: [{ data: [], backgroundColor: color, borderRadius: 3, maxBarThickness: 36 }] },
      options,
    });
    charts[id] = chart;
  }
  chart.data.labels = labels;
  chart.data.datasets[0].data = values;
  chart.update();
  canvas.setAttribute('aria-label', describe);
  canvas.dataset.points = String(values.length);
}

export function renderCharts(summary) {
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
