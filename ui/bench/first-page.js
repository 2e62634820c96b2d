#!/usr/bin/env node
/*
 * How fast the workflow list's first page is with many closed workflows
 * (issue 14: <= 200 ms with 1,000,000).
 *
 * Makes a private cluster (test/cluster.js; PG_BINDIR picks the build),
 * inserts N closed workflows set-based into durable.workflows (the rows
 * bench/run --size preloads, without their history, which the list never
 * reads), VACUUM ANALYZE, starts the UI in this process and loads pages in
 * headless Chromium: the time from navigation start to the load event, as
 * the browser measures it (Navigation Timing), over --repeat loads of each
 * page, and the list query's own time as the server reports it.
 *
 *   PG_BINDIR=... node ui/bench/first-page.js [--rows 1000000] [--repeat 20] [--json FILE]
 */
'use strict';

const fs = require('node:fs');
const pg = require('pg');
const puppeteer = require('puppeteer-core');
const { Cluster } = require('../test/cluster');
const { App } = require('../server');

function arg(name, def) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}

const ROWS = Number(arg('--rows', 1000000));
const REPEAT = Number(arg('--repeat', 20));
const JSON_OUT = arg('--json', '');

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

async function main() {
  const cluster = new Cluster(["shared_buffers = '256MB'", "max_wal_size = '4GB'", "maintenance_work_mem = '512MB'"]);
  await cluster.start();
  const db = new pg.Client({ connectionString: cluster.url() });
  await db.connect();
  let browser;
  let server;
  let app;
  try {
    const t0 = Date.now();
    const chunk = 250000;
    // 30 days of starts, newest last; ten types, four queues, a search attribute
    for (let lo = 1; lo <= ROWS; lo += chunk) {
      const hi = Math.min(ROWS, lo + chunk - 1);
      await db.query(
        `INSERT INTO durable.workflows (run_id, workflow_id, workflow_type, task_queue, status, input, result,
                                        start_time, close_time, task_timeout, first_run_id, history_length,
                                        search_attributes)
         SELECT r, 'pre-' || i, 'Type' || (i % 10), 'queue-' || (i % 4),
                CASE WHEN i % 100 = 0 THEN 'failed' ELSE 'completed' END, '{"x": 1}', '"ok"',
                t, t + interval '150 ms', interval '10 seconds', r, 11,
                jsonb_build_object('CustomerId', 'c' || (i % 1000))
         FROM (SELECT i, gen_random_uuid() AS r,
                      now() - interval '30 days' + interval '30 days' * (i::float8 / $3) AS t
               FROM generate_series($1::int, $2::int) i) s`,
        [lo, hi, ROWS],
      );
      process.stderr.write(`-- inserted ${hi} workflows (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
    }
    await db.query('VACUUM (ANALYZE) durable.workflows');
    await db.query('CHECKPOINT');
    const [{ n, idx }] = (await db.query(
      "SELECT count(*) AS n, to_regclass('durable.workflows_by_start_time') IS NOT NULL AS idx FROM durable.workflows",
    )).rows;
    process.stderr.write(`-- ${n} workflows, index workflows_by_start_time: ${idx ? 'yes' : 'NO'}; load ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);

    app = new App({ databaseUrl: cluster.url(), port: 0, host: '127.0.0.1', namespace: 'default', readOnly: false });
    server = await app.listen();
    const base = `http://127.0.0.1:${server.address().port}`;
    browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    const page = await browser.newPage();

    const cases = [
      ['first page', '/workflows'],
      ['status=failed', '/workflows?status=failed'],
      ['type=Type3', '/workflows?type=Type3'],
      ['id prefix pre-99999 (recent)', '/workflows?id=pre-99999'],
      ['id prefix pre-1000 (111 old runs)', '/workflows?id=pre-1000'],
      ['queue=queue-2', '/workflows?queue=queue-2'],
      ['search attribute CustomerId=c7', '/workflows?sa=CustomerId%3Dc7'],
      ['a day, 10 days ago', `/workflows?from=${new Date(Date.now() - 10 * 86400e3).toISOString()}&to=${new Date(Date.now() - 9 * 86400e3).toISOString()}`],
    ];
    // the second page: the first page's next link
    await page.goto(base + '/workflows');
    const next = await page.$eval('#next-page', (a) => a.getAttribute('href'));
    cases.push(['second page (keyset)', next]);

    const results = [];
    for (const [name, path] of cases) {
      const load = [];
      const query = [];
      let rows = 0;
      for (let i = 0; i < REPEAT + 2; i++) {
        await page.goto(base + path, { waitUntil: 'load' });
        const nav = await page.evaluate(() => {
          const e = performance.getEntriesByType('navigation')[0];
          return { load: e.loadEventEnd - e.startTime };
        });
        const q = Number(await page.$eval('#query-ms', (e) => e.dataset.ms));
        rows = await page.$$eval('#workflow-list a.wf', (as) => as.length);
        if (i >= 2) { // two warm-up loads
          load.push(nav.load);
          query.push(q);
        }
      }
      const r = { case: name, rows, load_p50_ms: pct(load, 0.5), load_max_ms: Math.max(...load), query_p50_ms: pct(query, 0.5), query_max_ms: Math.max(...query) };
      results.push(r);
      console.log(`${name.padEnd(34)} rows ${String(rows).padStart(3)}  page load p50 ${r.load_p50_ms.toFixed(1).padStart(7)} ms  max ${r.load_max_ms.toFixed(1).padStart(7)} ms  | list query p50 ${r.query_p50_ms.toFixed(2).padStart(7)} ms  max ${r.query_max_ms.toFixed(2).padStart(7)} ms`);
    }
    const ok = results[0].load_p50_ms <= 200;
    console.log(`first page with ${Number(n).toLocaleString('en')} closed workflows: ${results[0].load_p50_ms.toFixed(1)} ms (target <= 200 ms: ${ok ? 'met' : 'NOT met'})`);
    if (JSON_OUT) fs.writeFileSync(JSON_OUT, JSON.stringify({ rows: Number(n), index: idx, repeat: REPEAT, results }, null, 2));
  } finally {
    await browser?.close();
    server?.closeAllConnections();
    if (server) await new Promise((r) => server.close(r));
    await app?.pool.end();
    await db.end();
    await cluster.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
