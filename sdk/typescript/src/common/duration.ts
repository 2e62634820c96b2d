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

const PG_MONTH = 30 * 86_400_000;
const PG_YEAR = 365.25 * 86_400_000;

/** Milliseconds of a unit word of PostgreSQL's interval output ("days", "mons", "hrs", "secs"...). */
function pgUnitMs(unit: string): number | undefined {
  const u = unit.toLowerCase();
  if (u.startsWith('y')) return PG_YEAR;
  if (u.startsWith('mon')) return PG_MONTH;
  if (u.startsWith('w')) return 7 * 86_400_000;
  if (u.startsWith('d')) return 86_400_000;
  if (u.startsWith('h')) return 3_600_000;
  if (u.startsWith('mil') || u === 'ms' || u === 'msec' || u === 'msecs') return 1;
  if (u.startsWith('mic') || u === 'us' || u === 'usec' || u === 'usecs') return 0.001;
  if (u.startsWith('mi')) return 60_000;
  if (u.startsWith('s')) return 1000;
  return undefined;
}

/**
 * Milliseconds of PostgreSQL interval text, as `interval` columns come out
 * of `to_json`/`to_jsonb` (e.g. a task's `heartbeat_timeout`): the default
 * `postgres` style ("00:00:30", "1 day 02:00:00.5", "2 mons"), and the
 * `iso_8601` ("PT30S"), `sql_standard` ("1 2:00:00") and `postgres_verbose`
 * ("@ 30 secs") styles.  Months are 30 days and years 365.25 days, as
 * `extract(epoch FROM interval)` counts them.  undefined for NULL or text
 * it cannot read.
 */
export function parsePgInterval(text: string | null | undefined): number | undefined {
  if (text === null || text === undefined) return undefined;
  let s = String(text).trim();
  const iso = /^(-)?P(?:(-?[\d.]+)Y)?(?:(-?[\d.]+)M)?(?:(-?[\d.]+)W)?(?:(-?[\d.]+)D)?(?:T(?:(-?[\d.]+)H)?(?:(-?[\d.]+)M)?(?:(-?[\d.]+)S)?)?$/.exec(s);
  if (iso) {
    const f = [PG_YEAR, PG_MONTH, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000];
    let ms = 0;
    for (let i = 0; i < f.length; i++) if (iso[i + 2] !== undefined) ms += parseFloat(iso[i + 2]) * f[i];
    return iso[1] ? -ms : ms;
  }
  let negate = false;
  if (s.startsWith('@')) s = s.slice(1).trim();
  if (/\sago$/.test(s)) {
    negate = true;
    s = s.replace(/\s+ago$/, '');
  }
  if (s === '') return undefined;
  const tokens = s.split(/\s+/);
  let ms = 0;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    let m = /^([+-])?(\d+):(\d+)(?::(\d+(?:\.\d*)?))?$/.exec(tok);
    if (m) {
      const v = parseInt(m[2], 10) * 3_600_000 + parseInt(m[3], 10) * 60_000 + (m[4] ? parseFloat(m[4]) * 1000 : 0);
      ms += m[1] === '-' ? -v : v;
      continue;
    }
    m = /^([+-])?(\d+)-(\d+)$/.exec(tok); // sql_standard years-months
    if (m) {
      const v = parseInt(m[2], 10) * PG_YEAR + parseInt(m[3], 10) * PG_MONTH;
      ms += m[1] === '-' ? -v : v;
      continue;
    }
    if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(tok)) return undefined;
    const n = parseFloat(tok);
    const unit = tokens[i + 1];
    if (unit !== undefined && /^[a-zA-Z]+$/.test(unit)) {
      const f = pgUnitMs(unit);
      if (f === undefined) return undefined;
      ms += n * f;
      i++;
    } else {
      ms += n * 86_400_000; // sql_standard: a bare number before the time is days
    }
  }
  return negate ? -ms : ms;
}
