import { condition, defineQuery, defineSignal, setHandler } from '@temporalio/workflow';

export const setDeadlineSignal = defineSignal<[number]>('setDeadline');
export const timeLeftQuery = defineQuery<number>('timeLeft');

/** A countdown whose deadline a signal can move. */
export async function countdownWorkflow(): Promise<void> {
  const target = Date.now() + 24 * 60 * 60 * 1000; // one day
  const timer = new UpdatableTimer(target);
  console.log('timer set for: ' + new Date(target).toString());
  setHandler(setDeadlineSignal, (deadline) => {
    timer.deadline = deadline;
    console.log('timer now set for: ' + new Date(deadline).toString());
  });
  setHandler(timeLeftQuery, () => timer.deadline - Date.now());
  await timer; // resolves earlier when a signal brings the deadline closer
  console.log('countdown done!');
}

/** Awaitable timer; setting `deadline` restarts the wait. */
export class UpdatableTimer implements PromiseLike<void> {
  deadlineUpdated = false;
  #deadline: number;

  constructor(deadline: number) {
    this.#deadline = deadline;
  }

  private async run(): Promise<void> {
    for (;;) {
      this.deadlineUpdated = false;
      if (!(await condition(() => this.deadlineUpdated, Math.max(1, this.#deadline - Date.now())))) break;
    }
  }

  then<TResult1 = void, TResult2 = never>(
    onfulfilled?: (value: void) => TResult1 | PromiseLike<TResult1>,
    onrejected?: (reason: any) => TResult2 | PromiseLike<TResult2>,
  ): PromiseLike<TResult1 | TResult2> {
    return this.run().then(onfulfilled, onrejected);
  }

  set deadline(value: number) {
    this.#deadline = value;
    this.deadlineUpdated = true;
  }

  get deadline(): number {
    return this.#deadline;
  }
}
