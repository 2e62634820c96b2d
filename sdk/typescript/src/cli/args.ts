/**
 * The CLI's argument parsing: `--flag value`, `--flag=value`, short
 * aliases (-w, -r, -t, -s, -n, -o, -i), repeatable flags, and boolean
 * flags.  Each command declares its flags, so an unknown flag or a missing
 * value is a usage error (exit status 2) that names it.
 */

export class UsageError extends Error {}

export interface FlagSpec {
  /** Takes no value. */
  bool?: boolean;
  /** May be given more than once (values kept in order). */
  multi?: boolean;
  /** Short alias without the dash. */
  short?: string;
  help: string;
}

export type Flags = Record<string, FlagSpec>;
export type Parsed = Record<string, string | string[] | boolean | undefined>;

export function parseFlags(argv: string[], flags: Flags): Parsed {
  const out: Parsed = {};
  const byShort = new Map(Object.entries(flags).filter(([, f]) => f.short).map(([k, f]) => [f.short!, k]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    let name: string | undefined;
    let value: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (eq > 0) value = a.slice(eq + 1);
    } else if (a.startsWith('-') && a.length === 2) {
      name = byShort.get(a.slice(1));
      if (!name) throw new UsageError(`unknown flag ${a}`);
    } else {
      throw new UsageError(`unexpected argument "${a}"`);
    }
    const f = flags[name];
    if (!f) throw new UsageError(`unknown flag --${name}`);
    if (f.bool) {
      out[name] = value === undefined ? true : !['false', '0', 'no'].includes(value);
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag --${name} needs a value`);
      value = argv[++i];
    }
    if (f.multi) out[name] = [...((out[name] as string[] | undefined) ?? []), value];
    else out[name] = value;
  }
  return out;
}

export function flagHelp(flags: Flags): string {
  return Object.entries(flags)
    .map(([k, f]) => `  ${f.short ? `-${f.short}, ` : '    '}--${k}${f.bool ? '' : ' <value>'}${f.multi ? ' (repeatable)' : ''}\n        ${f.help}`)
    .join('\n');
}

/** A JSON value given on the command line; a string that is not JSON is taken as that string (as Temporal's --input is not). */
export function jsonArg(s: string, what: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    throw new UsageError(`${what}: not valid JSON: ${s}`);
  }
}

/** key=JSON pairs (--search-attribute, --memo). */
export function keyValues(list: string[] | undefined, what: string): Record<string, unknown> | undefined {
  if (!list?.length) return undefined;
  const out: Record<string, unknown> = {};
  for (const kv of list) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`${what} "${kv}": expected key=value`);
    const v = kv.slice(eq + 1);
    out[kv.slice(0, eq)] = jsonArg(v, `${what} ${kv.slice(0, eq)}`);
  }
  return out;
}
