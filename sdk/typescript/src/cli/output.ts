/**
 * The CLI's output: aligned tables and key/value records for people,
 * JSON (--output json) for programs.
 */

export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Columns padded to their widest cell; `truncate` names a column cut to the terminal's width. */
export function printTable(rows: Record<string, unknown>[], columns: string[], opts: { truncate?: string } = {}): void {
  const cells = rows.map((r) => columns.map((c) => cell(r[c]).replace(/\n/g, ' ')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const t = opts.truncate ? columns.indexOf(opts.truncate) : -1;
  if (t >= 0) {
    const room = (process.stdout.columns || 160) - widths.reduce((a, w, i) => (i === t ? a : a + w + 2), 0);
    widths[t] = Math.max(columns[t].length, Math.min(widths[t], room));
  }
  const line = (vals: string[]) => vals.map((v, i) => (v.length > widths[i] ? `${v.slice(0, widths[i] - 1)}…` : v.padEnd(widths[i])))
    .join('  ').trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const r of cells) process.stdout.write(`${line(r)}\n`);
}

export function printRecord(r: Record<string, unknown>): void {
  const w = Math.max(0, ...Object.keys(r).map((k) => k.length));
  for (const [k, v] of Object.entries(r)) process.stdout.write(`${k.padEnd(w)}  ${cell(v)}\n`);
}
