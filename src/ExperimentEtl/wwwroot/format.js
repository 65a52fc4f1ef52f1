// Formatting and small DOM helpers shared by the dashboard's modules.

const numberFormat = new Intl.NumberFormat();
const averageFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const compactFormat = new Intl.NumberFormat(undefined, { notation: 'compact' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export const $ = (selector) => document.querySelector(selector);

export function text(tag, content, className) {
  const node = document.createElement(tag);
  if (content !== undefined && content !== null) node.textContent = content;
  if (className) node.className = className;
  return node;
}

export function formatNumber(value) {
  return value === null || value === undefined ? '–' : numberFormat.format(value);
}

export function formatAverage(value) {
  return averageFormat.format(value);
}

export function formatCompact(value) {
  return compactFormat.format(value);
}

export function formatTime(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : dateTimeFormat.format(date);
}

export function statusBadge(status) {
  return text('span', status, `badge badge--${status}`);
}
