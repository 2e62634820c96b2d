/**
 * The update round trip of issue 11, at the protocol level: a client calls
 * durable.update_workflow(wait for completed) on a workflow whose worker
 * waits idle in a long poll; the worker answers each update task with
 * accept_update and complete_update.  UPDATE_N round trips, one at a time,
 * UPDATE_GAP_MS apart (the worker is back in its poll, idle, when the next
 * update arrives).  Prints one JSON line: the round trip and the part of it
 * until the worker had the task, in ms.
 */
import { Client } from 'pg';

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 1000) / 1000;
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL!;
  const n = Number(process.env.UPDATE_N ?? 300);
  const gap = Number(process.env.UPDATE_GAP_MS ?? 5);
  const queue = process.env.TASK_QUEUE ?? 'update-rtt';
  const worker = new Client({ connectionString: url });
  const client = new Client({ connectionString: url });
  await worker.connect();
  await client.connect();
  const wid = `update-rtt-${Date.now()}`;
  await client.query(`SELECT durable.start_workflow('UpdateRtt', NULL, $1, $2)`, [wid, queue]);
  const first = await worker.query(`SELECT task_token FROM durable.poll_task($1, 'w', '{workflow}', wait => '5 seconds')`, [queue]);
  await worker.query(`SELECT durable.complete_workflow_task($1, '[]')`, [first.rows[0].task_token]);

  let sent = 0n;
  const polled: number[] = [];
  let stop = false;
  const loop = (async () => {
    while (!stop) {
      const t = await worker.query(
        `SELECT task_token, messages FROM durable.poll_task($1, 'w', '{workflow}', wait => '1 second')`, [queue]);
      if (t.rows.length === 0) continue;
      polled.push(Number(process.hrtime.bigint() - sent) / 1e6);
      const cmds: unknown[] = [];
      for (const m of t.rows[0].messages ?? []) {
        cmds.push({ type: 'accept_update', update_id: m.update_id, name: m.name, args: m.args });
        cmds.push({ type: 'complete_update', update_id: m.update_id, result: m.args });
      }
      await worker.query(`SELECT durable.complete_workflow_task($1, $2::jsonb)`, [t.rows[0].task_token, JSON.stringify(cmds)]);
    }
  })();
  const rtt: number[] = [];
  for (let i = 0; i < n; i++) {
    await new Promise((r) => setTimeout(r, gap));
    sent = process.hrtime.bigint();
    const u = await client.query(
      `SELECT stage FROM durable.update_workflow($1, 'bump', to_jsonb($2::int), 'u' || $2::text, wait => '10 seconds')`, [wid, i]);
    rtt.push(Number(process.hrtime.bigint() - sent) / 1e6);
    if (u.rows[0].stage !== 'completed') throw new Error(`update ${i}: ${u.rows[0].stage}`);
  }
  stop = true;
  await loop;
  await client.query(`SELECT durable.terminate_workflow($1)`, [wid]);
  process.stdout.write(JSON.stringify({
    updates: n, gap_ms: gap,
    round_trip_ms: { p50: pct(rtt, 0.5), p90: pct(rtt, 0.9), p99: pct(rtt, 0.99), max: pct(rtt, 1) },
    until_worker_has_task_ms: { p50: pct(polled, 0.5), p90: pct(polled, 0.9), p99: pct(polled, 0.99) },
  }) + '\n');
  await worker.end();
  await client.end();
}

main().catch((e) => { process.stderr.write(String(e?.stack ?? e) + '\n'); process.exit(1); });
