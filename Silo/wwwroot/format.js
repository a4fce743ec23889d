// Formatting for dense tables: short ids, relative times, compact numbers.

const numberFormat = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });
const compactFormat = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });

export const formatNumber = (n) => (n === undefined || n === null ? '—' : n >= 100000 ? compactFormat.format(n) : numberFormat.format(n));

/** The last characters of a long id, which is where ids of the same moment differ. */
export function shortId(id, length = 8) {
  if (!id) return '';
  return id.length <= length + 1 ? id : `…${id.slice(-length)}`;
}

/** "3 s", "4 min", "2 h", "5 d" ago, from an ISO string or ms since the epoch. */
export function timeAgo(value, now = Date.now()) {
  if (!value) return '';
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (Number.isNaN(ms)) return '';
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

/** A local date and time with seconds, for detail views. */
export function dateTime(value) {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString(undefined, { hour12: false });
}

export const percent = (p) => (p === undefined || p === null ? '' : `${Math.round(p)}%`);

export const prettyJson = (value) => JSON.stringify(value, null, 2);
