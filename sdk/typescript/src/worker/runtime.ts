/**
 * The process-wide runtime and its logger, as Temporal's TypeScript SDK has
 * them (packages/worker/src/runtime.ts, logger.ts): `Runtime.install({
 * logger })` once at startup replaces where every worker of the process, the
 * workflows' `log` and the activities' `log` write; `DefaultLogger` writes to
 * stderr from a level up.  A worker can also be given a logger of its own
 * (WorkerOptions.logger), which takes precedence for it.
 */
import { formatWithOptions } from 'node:util';
import { IllegalStateError } from '../common/failure';
import type { LogLevel, LogMetadata, Logger } from '../common/logger';

export type { LogLevel, LogMetadata, Logger } from '../common/logger';

export interface LogEntry {
  level: LogLevel;
  message: string;
  /** When the entry was made (Temporal's field: nanoseconds since the epoch). */
  timestampNanos: bigint;
  meta?: LogMetadata;
}

const SEVERITIES: LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

function defaultLogFunction(entry: LogEntry): void {
  const when = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = entry.meta === undefined ? '' : ` ${formatWithOptions({ breakLength: Infinity }, entry.meta)}`;
  process.stderr.write(`${when} [${entry.level}] ${entry.message}${meta}\n`);
}

/** Logs entries of `level` and above with `logFunction` (default: a line on stderr). */
export class DefaultLogger implements Logger {
  private readonly severity: number;

  constructor(public readonly level: LogLevel = 'INFO', private readonly logFunction: (entry: LogEntry) => void = defaultLogFunction) {
    this.severity = SEVERITIES.indexOf(level);
    if (this.severity < 0) throw new TypeError(`DefaultLogger: unknown level "${level}" (${SEVERITIES.join(', ')})`);
  }

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (SEVERITIES.indexOf(level) < this.severity) return;
    const rest = meta && Object.keys(meta).length ? meta : undefined;
    this.logFunction({ level, message, meta: rest, timestampNanos: BigInt(Date.now()) * 1_000_000n });
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}

/**
 * A logger that adds `meta` (or what a function of it returns, evaluated at
 * each call) to every entry of `parent`; the entry's own metadata wins.
 */
export function withMetadata(parent: Logger, meta: LogMetadata | (() => LogMetadata)): Logger {
  const merged = (m?: LogMetadata): LogMetadata => ({ ...(typeof meta === 'function' ? meta() : meta), ...m });
  return {
    log: (level, message, m) => parent.log(level, message, merged(m)),
    trace: (message, m) => parent.trace(message, merged(m)),
    debug: (message, m) => parent.debug(message, merged(m)),
    info: (message, m) => parent.info(message, merged(m)),
    warn: (message, m) => parent.warn(message, merged(m)),
    error: (message, m) => parent.error(message, merged(m)),
  };
}

export interface RuntimeOptions {
  /** Where the SDK logs (default: `new DefaultLogger('INFO')`). */
  logger?: Logger;
}

/**
 * The process-wide runtime.  `Runtime.install()` must come before anything
 * uses the runtime (creating a worker does), as in Temporal; it throws when
 * a runtime is already there.
 */
export class Runtime {
  private static current?: Runtime;

  private constructor(readonly options: RuntimeOptions) {}

  /** Where the SDK logs. */
  get logger(): Logger {
    return this.options.logger!;
  }

  static install(options: RuntimeOptions): Runtime {
    if (Runtime.current) throw new IllegalStateError('Runtime is already installed');
    Runtime.current = new Runtime({ ...options, logger: options.logger ?? new DefaultLogger('INFO') });
    return Runtime.current;
  }

  /** The installed runtime, or one with the default options. */
  static instance(): Runtime {
    return Runtime.current ?? Runtime.install({});
  }
}
