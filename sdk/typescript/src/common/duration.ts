/**
 * Durations as Temporal's TypeScript SDK takes them: a number of
 * milliseconds, or an `ms`-style string ("30s", "1.5 hours", "30 days",
 * "100ms").  Loaded inside workflow sandboxes too: no Node APIs.
 */
export type Duration = number | string;

const UNITS: Record<string, number> = {
  ms: 1, msec: 1, msecs: 1, millisecond: 1, milliseconds: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
  y: 31_557_600_000, yr: 31_557_600_000, yrs: 31_557_600_000, year: 31_557_600_000, years: 31_557_600_000,
};

/** Milliseconds of a duration; throws TypeError on a malformed one. */
export function msToNumber(d: Duration): number {
  if (typeof d === 'number') {
    if (!Number.isFinite(d) || d < 0) throw new TypeError(`invalid duration: ${d}`);
    return d;
  }
  const m = /^\s*(-?\d*\.?\d+)\s*([a-zA-Z]*)\s*$/.exec(String(d));
  if (!m) throw new TypeError(`invalid duration: "${d}"`);
  const n = parseFloat(m[1]);
  const unit = m[2].toLowerCase() || 'ms';
  const f = UNITS[unit];
  if (f === undefined || n < 0) throw new TypeError(`invalid duration: "${d}"`);
  return n * f;
}

/** Optional variant: undefined stays undefined. */
export function msOptionalToNumber(d: Duration | undefined | null): number | undefined {
  return d === undefined || d === null ? undefined : msToNumber(d);
}

/** PostgreSQL interval text for a duration, e.g. "2592000s" for 30 days. */
export function toInterval(d: Duration): string {
  const ms = Math.round(msToNumber(d));
  return `${ms / 1000}s`;
}

export function toOptionalInterval(d: Duration | undefined | null): string | undefined {
  return d === undefined || d === null ? undefined : toInterval(d);
}

/** Milliseconds of a protobuf-style duration the engine writes ("30s", "0.250s"). */
export function parseEngineDuration(s: string | null | undefined): number | undefined {
  if (s === null || s === undefined) return undefined;
  const m = /^(-?\d*\.?\d+)s$/.exec(s);
  return m ? Math.round(parseFloat(m[1]) * 1000) : undefined;
}
