/**
 * Polling and slots.  A Semaphore per task kind bounds the tasks that run
 * at once (maxConcurrentWorkflowTasks, maxConcurrentActivities); a Poller
 * owns one dedicated connection and long-polls durable.poll_task for some
 * kinds, handing the task it gets to the worker.
 *
 * A poller polls only while more than `keepFree` slots of its kind are
 * free (the worker leaves one slot, and one more for its second poller, to
 * the tasks completions hand back, which need no poll: under load one poller
 * polls, for new work only), and holds no slot while it waits: a task a
 * completion hands back meanwhile may take the slot, and the task the poll
 * then brings waits for the next one (at most one per poller).  So the
 * slots bound the tasks that run, and a worker claims at most as many
 * tasks as it has pollers beyond what it can run.
 */
import type pg from 'pg';
import { isConnectionError } from '../errors';
import { Statement, runOn } from './engine';

export class Semaphore {
  /** Waiting to take a slot (tasks claimed by polls), first come first served. */
  private readonly takers: (() => void)[] = [];
  /** Waiting for free slots without taking one (pollers). */
  private readonly watchers: { keepFree: number; wake: () => void }[] = [];

  constructor(private free: number) {}

  /** Take a slot, waiting until one is free. */
  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((wake) => this.takers.push(wake));
  }
  /** Take a slot if one is free now. */
  tryAcquire(): boolean {
    if (this.free > 0) {
      this.free--;
      return true;
    }
    return false;
  }
  /**
   * Take a slot even if none is free: the slot of a task that is about to
   * release it (see Worker.handedOut), or for a task that must run.
   * release() gives such a slot back before it wakes anyone.
   */
  take(): void {
    this.free--;
  }
  /** Slots free now (negative while slots taken with take() are outstanding). */
  get available(): number {
    return this.free;
  }
  /** Wait until more than keepFree slots are free; takes none. */
  async whenFree(keepFree = 0): Promise<void> {
    if (this.free > keepFree) return;
    await new Promise<void>((wake) => this.watchers.push({ keepFree, wake }));
  }
  release(): void {
    this.free++;
    if (this.free <= 0) return;
    const t = this.takers.shift();
    if (t) {
      this.free--;
      t();
      return;
    }
    for (let i = 0; i < this.watchers.length;) {
      if (this.free > this.watchers[i].keepFree) this.watchers.splice(i, 1)[0].wake();
      else i++;
    }
  }
  /** Wake the pollers waiting for a slot (shutdown). */
  wakeAll(): void {
    for (const w of this.watchers.splice(0)) w.wake();
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a poller needs from its worker. */
export interface PollerHost {
  /** The poll statement and its parameters for these kinds and wait (the worker's queue, identity and namespace). */
  pollCall(kinds: string[], wait: string): { stmt: Statement; params: unknown[] };
  /** Polling goes on while this is true. */
  running(): boolean;
  /** A new connection for polls (retried until it works or the worker stops). */
  connect(): Promise<pg.Client>;
  /** Run a task (to_json(durable.task)) when a slot of its kind is free. */
  runPolled(row: unknown): void;
  /** A poll returned (metrics): how long it took and whether it got a task. */
  pollDone?(kinds: string[], seconds: number, gotTask: boolean): void;
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string): void;
}

export class Poller {
  client?: pg.Client;
  /** A poll is in flight (shutdown interrupts it with pg_cancel_backend). */
  polling = false;
  readonly done: Promise<void>;

  /** keepFree: the poller polls only while more than this many slots are free. */
  constructor(private readonly host: PollerHost, readonly kinds: string[], private readonly slots: Semaphore, wait: string,
    private readonly keepFree = 0) {
    this.done = this.loop(wait);
  }

  private async loop(wait: string): Promise<void> {
    const host = this.host;
    const { stmt, params } = host.pollCall(this.kinds, wait);
    try {
      while (host.running()) {
        if (!this.client) {
          try {
            this.client = await host.connect();
          } catch {
            break;
          }
        }
        await this.slots.whenFree(this.keepFree);
        if (!host.running()) break;
        let task: unknown;
        try {
          this.polling = true;
          const t0 = performance.now();
          task = await runOn(this.client, stmt, params);
          host.pollDone?.(this.kinds, (performance.now() - t0) / 1000, !!task);
        } catch (e) {
          this.polling = false;
          if (!host.running()) break;
          const code = (e as any).code;
          if (code === '57014') continue; // cancelled
          // no worker capability in the namespace (or it is gone): said loudly, retried slowly, as a grant may come
          const denied = code === '42501' || code === 'DU009';
          host.log(denied ? 'error' : isConnectionError(e) ? 'debug' : 'warn', `poll failed: ${(e as Error).message}`);
          await this.client.end().catch(() => undefined);
          this.client = undefined;
          for (let t = 0; t < (denied ? 5000 : 200) && host.running(); t += 100) await delay(100);
          continue;
        } finally {
          this.polling = false;
        }
        if (task) host.runPolled(task);
      }
    } finally {
      await this.client?.end().catch(() => undefined);
      this.client = undefined;
    }
  }
}
