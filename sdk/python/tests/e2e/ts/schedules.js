// The TypeScript SDK's schedule client for test_interop_schedules.py (env DATABASE_URL):
//   node schedules.js create ID   creates schedule ID with client.schedule.create (the spec of
//                                 the test's expectations, written with Temporal TS's names)
//   node schedules.js describe ID prints ScheduleHandle.describe() as JSON
//   node schedules.js trigger ID  ScheduleHandle.trigger()
const { Client } = require('../../../../typescript/dist/src');

async function main() {
  const [what, id] = process.argv.slice(2);
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  try {
    if (what === 'create') {
      await client.schedule.create({
        scheduleId: id,
        spec: {
          calendars: [
            { hour: 9, dayOfWeek: { start: 'MONDAY', end: 'FRIDAY' }, comment: 'weekdays at 9' },
            { minute: { start: 0, end: 59, step: 15 }, hour: { start: 0, end: 23 }, month: ['JANUARY', 'JULY'] },
          ],
          intervals: [{ every: '90m', offset: '5s' }],
          cronExpressions: ['30 2 * * *'],
          skip: [{ month: 'DECEMBER', dayOfMonth: 25, hour: { start: 0, end: 23 }, minute: { start: 0, end: 59 } }],
          startAt: new Date('2090-01-01T00:00:00Z'),
          endAt: new Date('2091-01-01T00:00:00Z'),
          jitter: '30s',
          timezone: 'Europe/Paris',
        },
        action: {
          workflowType: 'Report', taskQueue: 'reports', args: ['weekly', 2], workflowId: 'rep',
          workflowExecutionTimeout: '1h', workflowRunTimeout: '30m', workflowTaskTimeout: '20s',
          retry: { maximumAttempts: 3 }, memo: { owner: 'ops' },
        },
        policies: { overlap: 'BUFFER_ONE', catchupWindow: '10m', pauseOnFailure: true },
        state: { paused: true, note: 'created paused', remainingActions: 7 },
      });
    } else if (what === 'describe') {
      const d = await client.schedule.getHandle(id).describe();
      delete d.raw;
      console.log(JSON.stringify(d));
    } else if (what === 'trigger') {
      await client.schedule.getHandle(id).trigger();
    } else {
      throw new Error(`unknown command ${what}`);
    }
  } finally {
    await client.close();
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
