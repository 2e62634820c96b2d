/**
 * Query tasks (kind = 'query'): answered with durable.answer_query from the
 * cached run when it stands exactly at the last completed workflow task of
 * the (always whole) stored history the task carries, else from a
 * throwaway replay of that history, events no workflow task has processed
 * yet included.  A query never changes the cached run.
 */
import { FailureJSON, encodeFailure } from '../common/failure';
import { SQL } from './engine';
import type { TaskHost } from './host';
import { HistoryEvent, WorkflowRun, isCommandEvent } from './replay';
import type { Task } from './task';
import type { RunCache } from './workflow-tasks';

/** The WorkflowTaskStarted of the last completed workflow task, and whether events follow that no task has seen. */
function lastCompletedTask(history: HistoryEvent[]): { started?: HistoryEvent; unseen: boolean } {
  let k = history.length - 2;
  for (; k >= 0; k--) {
    if (history[k].event_type === 'WorkflowTaskStarted' && history[k + 1].event_type === 'WorkflowTaskCompleted') break;
  }
  const started = k >= 0 ? history[k] : undefined;
  let unseen = false;
  for (let j = k + 1; j < history.length; j++) {
    if (!isCommandEvent(history[j]) && !history[j].event_type.startsWith('WorkflowTask')) unseen = true;
  }
  return { started, unseen };
}

export async function answerQuery(host: TaskHost, cache: RunCache, newRun: (t: Task) => WorkflowRun, task: Task): Promise<void> {
  host.stats.queryTasks++;
  let history = task.history ?? [];
  let answer: { result?: unknown; failure?: FailureJSON };
  let throwaway: WorkflowRun | undefined;
  const dc = host.dataConverter;
  try {
    // codecs run here; the sandbox converts the decoded payloads
    if (dc.codecs.length) history = await dc.decodeHistory(history);
    const input = dc.codecs.length ? await dc.decodeQueryInput(task.input) : task.input;
    const { started, unseen } = lastCompletedTask(history);
    const cached = cache.peek(task.run_id);
    const b = cached?.lastBoundary;
    let run: WorkflowRun;
    if (cached && b && started && !unseen && b.event_id === started.event_id &&
        Date.parse(b.event_time) === Date.parse(started.event_time)) {
      run = cached;
    } else {
      run = throwaway = newRun(task);
      run.advance(history, true, true);
    }
    answer = run.query(task.query_name ?? '', input);
    if (!answer.failure && dc.codecs.length) answer = { result: await dc.encodeQueryResult(answer.result) };
  } catch (e) {
    answer = { failure: encodeFailure(e) };
  } finally {
    throwaway?.dispose();
  }
  try {
    await host.engine.call(SQL.answerQuery, [
      task.task_token,
      answer.failure ? null : JSON.stringify(answer.result ?? null),
      answer.failure ? JSON.stringify(answer.failure) : null,
    ]);
  } catch (e) {
    host.log('debug', `answer_query: ${(e as Error).message}`);
  }
}
