#!/usr/bin/env node
/*
 * durable-ui: the Web UI of durable (docs/ui.md).
 *
 * One process, Node's built-in http server and the pg driver: every page is
 * HTML rendered here from SQL on the database (no second store, no client
 * framework, no build step).  The role it connects as decides what it shows
 * (row-level security: the namespaces the role holds a capability in) and
 * what it offers: the action buttons appear only where the role holds the
 * `client` capability in the namespace, may execute the function, and its
 * session is not read-only; a POST is checked again the same way, and then
 * by the engine itself.
 *
 *   node ui/server.js --database-url postgresql://... [--port 8233] [--host 127.0.0.1]
 *                     [--namespace default] [--read-only]
 */
'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const pg = require('pg');

const PAGE_SIZE = 50;
const HISTORY_LIMIT = 2000;
const STATUSES = ['running', 'completed', 'failed', 'canceled', 'terminated', 'continued_as_new', 'timed_out'];

/* ------------------------------------------------------------ arguments */

function parseArgs(argv) {
  const o = {
    databaseUrl: process.env.DURABLE_UI_DATABASE_URL || process.env.DATABASE_URL || '',
    port: Number(process.env.DURABLE_UI_PORT || 8233),
    host: process.env.DURABLE_UI_HOST || '127.0.0.1',
    namespace: 'default',
    readOnly: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--database-url') o.databaseUrl = val();
    else if (a === '--port') o.port = Number(val());
    else if (a === '--host') o.host = val();
    else if (a === '--namespace') o.namespace = val();
    else if (a === '--read-only') o.readOnly = true;
    else if (a === '--help' || a === '-h') o.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/* ------------------------------------------------------------- html */

function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function json(v, max = 20000) {
  if (v === null || v === undefined) return '<span class="muted">none</span>';
  let s = JSON.stringify(v, null, 2);
  if (s.length > max) s = s.slice(0, max) + `\n… (${s.length - max} more characters)`;
  return `<pre>${esc(s)}</pre>`;
}

function ts(d) {
  if (!d) return '';
  const t = d instanceof Date ? d : new Date(d);
  return isNaN(t) ? esc(d) : t.toISOString().replace('T', ' ').replace('Z', '');
}

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2430;background:#f6f7f9}
header{background:#1d2430;color:#fff;padding:8px 16px;display:flex;gap:18px;align-items:center}
header a{color:#cfe1ff;text-decoration:none} header b{margin-right:12px}
header form{margin-left:auto} main{padding:12px 16px}
table{border-collapse:collapse;background:#fff;width:100%;margin:6px 0 14px}
th,td{border:1px solid #dde1e7;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#eef1f5} pre{margin:0;white-space:pre-wrap;word-break:break-all;max-height:24em;overflow:auto}
.muted{color:#7a8494} .st{padding:1px 6px;border-radius:8px;font-size:12px;background:#e5e8ee}
.st-running{background:#d8ebff}.st-completed{background:#d9f2df}.st-failed,.st-timed_out,.st-terminated{background:#fadcdc}
.st-canceled{background:#f5ecd0} .msg{background:#fff7d6;border:1px solid #e8d98a;padding:6px 10px;margin:6px 0}
.err{background:#fde2e2;border-color:#eaa} form.filters{display:flex;flex-wrap:wrap;gap:6px;align-items:end;margin-bottom:6px}
form.filters label{display:flex;flex-direction:column;font-size:12px} .actions form{display:inline-block;margin:0 8px 8px 0;
background:#fff;border:1px solid #dde1e7;padding:6px} .cause{border-left:3px solid #d66;padding-left:8px;margin:4px 0}
.tl{position:relative;height:16px;background:#f0f2f5;min-width:300px} .tl span{position:absolute;top:2px;height:12px;border-radius:3px;background:#6c9be8}
.tl span.failed{background:#e06666}.tl span.open{background:#f0b84d} h2{margin:14px 0 4px;font-size:16px}
`;

function page(title, nav, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)} · durable</title>
<style>${CSS}</style></head><body><header><b>durable</b>
<a href="/workflows${qs({ ns: nav.ns })}" id="nav-workflows">Workflows</a>
<a href="/task-queues${qs({ ns: nav.ns })}" id="nav-task-queues">Task queues</a>
${nav.schedules ? `<a href="/schedules${qs({ ns: nav.ns })}" id="nav-schedules">Schedules</a>` : ''}
<form method="get" action="${esc(nav.path)}"><label>namespace <select name="ns" onchange="this.form.submit()">
${nav.namespaces.map((n) => `<option${n === nav.ns ? ' selected' : ''}>${esc(n)}</option>`).join('')}</select></label></form>
<span class="muted" id="whoami">${esc(nav.role)}${nav.canAct ? '' : ' (read-only)'}</span></header>
<main><h1 style="font-size:20px;margin:4px 0 10px">${esc(title)}</h1>${body}</main></body></html>`;
}

/* ------------------------------------------------------------ the app */

class App {
  constructor(opts) {
    this.opts = opts;
    this.pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 4, application_name: 'durable-ui' });
    this.token = crypto.randomBytes(16).toString('hex');
  }

  async q(text, params = []) {
    return (await this.pool.query(text, params)).rows;
  }

  /** What the role may see and do in namespace ns. */
  async privileges(ns) {
    const [r] = await this.q(
      `SELECT current_user AS role,
              current_setting('transaction_read_only') = 'on' AS read_only,
              (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS superuser,
              EXISTS (SELECT FROM durable.namespace_grants g WHERE g.namespace = $1
                      AND g.capability IN ('client', 'admin') AND pg_catalog.pg_has_role(g.role, 'USAGE'))
                OR ($1 = 'default' AND (pg_catalog.pg_has_role('durable_client', 'USAGE')
                                        OR pg_catalog.pg_has_role('durable_admin', 'USAGE'))) AS client,
              EXISTS (SELECT FROM durable.namespace_grants g WHERE g.namespace = $1
                      AND g.capability = 'admin' AND pg_catalog.pg_has_role(g.role, 'USAGE'))
                OR ($1 = 'default' AND pg_catalog.pg_has_role('durable_admin', 'USAGE')) AS admin,
              pg_catalog.has_function_privilege('durable.signal_workflow(text,text,jsonb,uuid,text,text)', 'EXECUTE') AS signal,
              pg_catalog.has_function_privilege('durable.query_workflow(text,text,jsonb,interval,uuid,text)', 'EXECUTE') AS query,
              pg_catalog.has_function_privilege('durable.cancel_workflow(text,text,uuid,text)', 'EXECUTE') AS cancel,
              pg_catalog.has_function_privilege('durable.terminate_workflow(text,text,uuid,text)', 'EXECUTE') AS terminate,
              pg_catalog.to_regclass('durable.schedules') IS NOT NULL AS schedules,
              pg_catalog.to_regprocedure('durable.pause_schedule(text,text,text)') IS NOT NULL
                AND pg_catalog.has_function_privilege('durable.pause_schedule(text,text,text)', 'EXECUTE') AS pause,
              pg_catalog.to_regprocedure('durable.unpause_schedule(text,text,text)') IS NOT NULL
                AND pg_catalog.has_function_privilege('durable.unpause_schedule(text,text,text)', 'EXECUTE') AS unpause,
              pg_catalog.to_regprocedure('durable.trigger_schedule(text,text,text)') IS NOT NULL
                AND pg_catalog.has_function_privilege('durable.trigger_schedule(text,text,text)', 'EXECUTE') AS trigger`,
      [ns],
    );
    const client = !this.opts.readOnly && !r.read_only && (r.superuser || r.client);
    return {
      role: r.role,
      admin: r.superuser || r.admin,
      schedules: r.schedules,
      canAct: client,
      can: {
        signal: client && r.signal,
        query: !this.opts.readOnly && (r.superuser || r.client) && r.query, // a query writes nothing
        cancel: client && r.cancel,
        terminate: client && r.terminate,
        pause: client && r.pause,
        unpause: client && r.unpause,
        trigger: client && r.trigger,
      },
    };
  }

  async nav(ns, path) {
    const rows = await this.q(`SELECT 'default' AS name UNION SELECT name FROM durable.namespaces ORDER BY 1`);
    const priv = await this.privileges(ns);
    return { nav: { ns, path, namespaces: rows.map((r) => r.name), schedules: priv.schedules, role: priv.role, canAct: priv.canAct }, priv };
  }

  /* ---------------------------------------------------------- workflows */

  /** The list query: filters as SQL, newest first, keyset after (start_time, run_id). */
  listQuery(ns, f) {
    const where = ['w.namespace = $1'];
    const params = [ns];
    const add = (sql, v) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (f.status) add('w.status = ?', f.status);
    if (f.type) add('w.workflow_type = ?', f.type);
    if (f.id) add('pg_catalog.starts_with(w.workflow_id, ?)', f.id);
    if (f.queue) add('w.task_queue = ?', f.queue);
    if (f.from) add('w.start_time >= ?::timestamptz', f.from);
    if (f.to) add('w.start_time < ?::timestamptz', f.to);
    if (f.sa) add('w.search_attributes @> ?::jsonb', JSON.stringify(parseSearchAttributes(f.sa)));
    if (f.after) {
      const bar = f.after.lastIndexOf('|');
      if (bar < 0) throw new UserError('bad page cursor');
      params.push(f.after.slice(0, bar), f.after.slice(bar + 1));
      where.push(`(w.start_time, w.run_id) < ($${params.length - 1}::timestamp AT TIME ZONE 'UTC', $${params.length}::uuid)`);
    }
    params.push(PAGE_SIZE + 1);
    const text = `SELECT w.workflow_id, w.run_id, w.workflow_type, w.task_queue, w.status, w.start_time, w.close_time,
                         w.history_length, (w.start_time AT TIME ZONE 'UTC')::text AS cursor_time
                  FROM durable.workflows w WHERE ${where.join(' AND ')}
                  ORDER BY w.start_time DESC, w.run_id DESC LIMIT $${params.length}`;
    return { text, params };
  }

  async workflows(req, url) {
    const ns = url.searchParams.get('ns') || this.opts.namespace;
    const f = {};
    for (const k of ['status', 'type', 'id', 'queue', 'from', 'to', 'sa', 'after']) f[k] = url.searchParams.get(k) || '';
    const { nav } = await this.nav(ns, '/workflows');
    const t0 = process.hrtime.bigint();
    const { text, params } = this.listQuery(ns, f);
    const rows = await this.q(text, params);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const more = rows.length > PAGE_SIZE;
    if (more) rows.pop();
    const last = rows[rows.length - 1];
    const filters = `<form class="filters" method="get" action="/workflows" id="filters"><input type="hidden" name="ns" value="${esc(ns)}">
<label>status<select name="status"><option value="">any</option>${STATUSES.map((s) => `<option${s === f.status ? ' selected' : ''}>${s}</option>`).join('')}</select></label>
<label>type<input name="type" value="${esc(f.type)}" size="14"></label>
<label>workflow id prefix<input name="id" value="${esc(f.id)}" size="14"></label>
<label>task queue<input name="queue" value="${esc(f.queue)}" size="10"></label>
<label>started from<input name="from" value="${esc(f.from)}" placeholder="2026-01-01 00:00Z" size="16"></label>
<label>started before<input name="to" value="${esc(f.to)}" placeholder="2026-01-02" size="16"></label>
<label>search attributes<input name="sa" value="${esc(f.sa)}" placeholder='{"CustomerId":"c1"} or k=v,k2=v2' size="22"></label>
<button type="submit" id="apply">Filter</button> <a href="/workflows${qs({ ns })}">clear</a></form>`;
    const table = `<table id="workflow-list"><tr><th>workflow id</th><th>run id</th><th>type</th><th>task queue</th><th>status</th><th>started</th><th>closed</th><th>events</th></tr>
${rows.map((r) => `<tr><td><a class="wf" href="/workflow${qs({ ns, id: r.workflow_id, run: r.run_id })}">${esc(r.workflow_id)}</a></td>
<td class="muted">${esc(r.run_id)}</td><td>${esc(r.workflow_type)}</td><td>${esc(r.task_queue)}</td>
<td><span class="st st-${esc(r.status)}">${esc(r.status)}</span></td><td>${ts(r.start_time)}</td><td>${ts(r.close_time)}</td><td>${esc(r.history_length)}</td></tr>`).join('')}
</table>`;
    const pager = `<p>${rows.length ? `${rows.length} workflows, newest first` : 'No workflows match.'}
${f.after ? ` · <a href="/workflows${qs({ ...f, after: '', ns })}" id="first-page">first page</a>` : ''}
${more ? ` · <a id="next-page" href="/workflows${qs({ ...f, ns, after: `${last.cursor_time}|${last.run_id}` })}">next page</a>` : ''}
<span class="muted" id="query-ms" data-ms="${ms.toFixed(2)}"> · query ${ms.toFixed(1)} ms</span></p>`;
    return page('Workflows', nav, filters + pager + table);
  }

  async workflow(req, url, extra = {}) {
    const ns = url.searchParams.get('ns') || this.opts.namespace;
    const id = url.searchParams.get('id');
    const run = url.searchParams.get('run') || null;
    if (!id) throw new UserError('missing workflow id');
    const { nav, priv } = await this.nav(ns, '/workflows');
    let d;
    try {
      [d] = await this.q('SELECT * FROM durable.describe_workflow($1, $2, $3)', [id, run, ns]);
    } catch (e) {
      if (e.code === 'DU001') return page(`Workflow ${id}`, nav, `<div class="msg err">${esc(e.message)}</div>`);
      throw e;
    }
    const hist = await this.q(
      'SELECT event_id, event_type, event_time, attributes FROM durable.get_history($1, $2, $3) LIMIT $4',
      [id, d.run_id, ns, HISTORY_LIMIT + 1],
    );
    const cut = hist.length > HISTORY_LIMIT;
    if (cut) hist.pop();
    const runs = await this.q(
      `SELECT run_id, status, start_time FROM durable.workflows WHERE namespace = $1 AND workflow_id = $2
       ORDER BY start_time DESC LIMIT 20`,
      [ns, id],
    );
    const msg = extra.msg ? `<div class="msg${extra.error ? ' err' : ''}" id="message">${esc(extra.msg)}</div>` : '';
    const queryOut = extra.query !== undefined ? `<h2>Query result</h2><div id="query-result">${json(extra.query)}</div>` : '';
    const summary = `<table id="summary">
<tr><th>workflow id</th><td>${esc(d.workflow_id)}</td><th>run id</th><td>${esc(d.run_id)}</td></tr>
<tr><th>type</th><td>${esc(d.workflow_type)}</td><th>task queue</th><td><a href="/task-queue${qs({ ns, name: d.task_queue })}">${esc(d.task_queue)}</a></td></tr>
<tr><th>status</th><td><span class="st st-${esc(d.status)}" id="status">${esc(d.status)}</span>${d.cancel_requested ? ' (cancel requested)' : ''}</td><th>attempt</th><td>${esc(d.attempt)}</td></tr>
<tr><th>started</th><td>${ts(d.start_time)}</td><th>closed</th><td>${ts(d.close_time)}</td></tr>
<tr><th>history length</th><td>${esc(d.history_length)}</td><th>build / priority</th><td>${esc(d.build_id ?? 'unversioned')} / ${esc(d.priority)}</td></tr>
<tr><th>runs of this id</th><td colspan="3">${runs.map((r) => `<a href="/workflow${qs({ ns, id, run: r.run_id })}">${r.run_id === d.run_id ? '<b>' : ''}${esc(r.run_id.slice(0, 8))} ${esc(r.status)}${r.run_id === d.run_id ? '</b>' : ''}</a>`).join(' · ')}
${d.previous_run_id ? ` · previous <a href="/workflow${qs({ ns, id, run: d.previous_run_id })}">${esc(d.previous_run_id)}</a>` : ''}
${d.next_run_id ? ` · next <a href="/workflow${qs({ ns, id, run: d.next_run_id })}">${esc(d.next_run_id)}</a>` : ''}</td></tr>
</table>`;
    const io = `<h2>Input</h2><div id="input">${json(d.input)}</div>
${d.status === 'completed' || d.result ? `<h2>Result</h2><div id="result">${json(d.result)}</div>` : ''}
${d.failure ? `<h2>Failure</h2><div id="failure">${causeChain(d.failure)}</div>` : ''}
${d.search_attributes && Object.keys(d.search_attributes).length ? `<h2>Search attributes</h2>${json(d.search_attributes)}` : ''}
${d.memo ? `<h2>Memo</h2>${json(d.memo)}` : ''}`;
    const acts = d.pending_activities || [];
    const pending = `<h2>Pending activities (${acts.length})</h2>${acts.length ? `<table id="pending-activities"><tr><th>activity id</th><th>type</th><th>state</th><th>attempt</th><th>last failure</th><th>heartbeat details</th><th>other</th></tr>
${acts.map((a) => `<tr><td>${esc(a.activity_id)}</td><td>${esc(a.activity_type)}</td><td>${esc(a.state)}</td><td>${esc(a.attempt)}</td>
<td>${a.last_failure ? causeChain(a.last_failure) : ''}</td><td>${a.heartbeat_details != null ? json(a.heartbeat_details, 2000) : ''}</td>
<td>${json(omit(a, ['activity_id', 'activity_type', 'state', 'attempt', 'last_failure', 'heartbeat_details']), 2000)}</td></tr>`).join('')}</table>` : '<p class="muted">none</p>'}
<h2>Pending timers (${(d.pending_timers || []).length})</h2>${(d.pending_timers || []).length ? `<div id="pending-timers">${objTable(d.pending_timers)}</div>` : '<p class="muted">none</p>'}
<h2>Pending children (${(d.pending_children || []).length})</h2>${(d.pending_children || []).length ? `<div id="pending-children">${objTable(d.pending_children, (k, v, o) => (k === 'workflow_id' ? `<a href="/workflow${qs({ ns, id: v })}">${esc(v)}</a>` : undefined))}</div>` : '<p class="muted">none</p>'}
${d.pending_workflow_task ? `<h2>Pending workflow task</h2>${json(d.pending_workflow_task)}` : ''}`;
    const running = d.status === 'running';
    const form = (action, label, fields, confirmText) =>
      `<form method="post" action="/workflow/${action}" id="form-${action}" data-confirm="${esc(confirmText)}" onsubmit="return confirm(this.dataset.confirm)">
<input type="hidden" name="token" value="${this.token}"><input type="hidden" name="ns" value="${esc(ns)}">
<input type="hidden" name="id" value="${esc(id)}"><input type="hidden" name="run" value="${esc(d.run_id)}">${fields}
<button type="submit" id="do-${action}">${label}</button></form>`;
    const actions = [];
    if (priv.can.query) actions.push(form('query', 'Query', '<input name="name" placeholder="query name" required size="12"> <input name="args" placeholder="args (JSON array)" size="14">', `Query workflow ${id}?`));
    if (running && priv.can.signal) actions.push(form('signal', 'Signal', '<input name="name" placeholder="signal name" required size="12"> <input name="payload" placeholder="payload (JSON)" size="14">', `Send this signal to workflow ${id}?`));
    if (running && priv.can.cancel) actions.push(form('cancel', 'Cancel', '<input name="reason" placeholder="reason" size="14">', `Request cancellation of workflow ${id}?`));
    if (running && priv.can.terminate) actions.push(form('terminate', 'Terminate', '<input name="reason" placeholder="reason" size="14">', `Terminate workflow ${id}? No workflow code will run.`));
    const note = priv.canAct ? (running ? '' : 'The run is closed: nothing to signal, cancel or terminate.')
      : `Role ${esc(priv.role)} is read-only here: no signal, cancel or terminate.`;
    const actionsHtml = `<div class="actions" id="actions">${actions.join('')}${note ? `<p class="muted" id="no-actions">${note}</p>` : ''}</div>`;
    const history = `<h2>Timeline</h2>${timeline(hist, d)}
<h2>History (${hist.length}${cut ? ` of ${d.history_length}; the first ${HISTORY_LIMIT}` : ''} events)</h2>
<table id="history"><tr><th>id</th><th>time</th><th>type</th><th>attributes</th></tr>
${hist.map((e) => `<tr><td>${esc(e.event_id)}</td><td>${ts(e.event_time)}</td><td>${esc(e.event_type)}</td><td>${json(e.attributes, 4000)}</td></tr>`).join('')}</table>`;
    return page(`Workflow ${id}`, nav, msg + summary + actionsHtml + queryOut + io + pending + history);
  }

  async action(req, url, body) {
    if (body.get('token') !== this.token) throw new UserError('stale form: reload the page', 403);
    const what = url.pathname.split('/').pop();
    const ns = body.get('ns') || this.opts.namespace;
    const id = body.get('id');
    const run = body.get('run') || null;
    const priv = await this.privileges(ns);
    if (!priv.can[what]) throw new UserError(`role ${priv.role} may not ${what} workflows in namespace ${ns}`, 403);
    const back = new URL(`/workflow${qs({ ns, id, run })}`, 'http://x');
    try {
      if (what === 'signal') {
        await this.q('SELECT durable.signal_workflow($1, $2, $3::jsonb, $4, NULL, $5)', [id, body.get('name'), jsonArg(body.get('payload')), run, ns]);
        return this.workflow(req, back, { msg: `Signal ${body.get('name')} sent.` });
      }
      if (what === 'query') {
        const [r] = await this.q("SELECT durable.query_workflow($1, $2, $3::jsonb, '10 seconds', $4, $5) AS r", [id, body.get('name'), jsonArg(body.get('args')), run, ns]);
        return this.workflow(req, back, { msg: `Query ${body.get('name')} answered.`, query: r.r });
      }
      if (what === 'cancel') {
        await this.q('SELECT durable.cancel_workflow($1, $2, $3, $4)', [id, body.get('reason') || null, run, ns]);
        return this.workflow(req, back, { msg: 'Cancellation requested.' });
      }
      if (what === 'terminate') {
        await this.q('SELECT durable.terminate_workflow($1, $2, $3, $4)', [id, body.get('reason') || null, run, ns]);
        return this.workflow(req, back, { msg: 'Workflow terminated.' });
      }
    } catch (e) {
      if (e instanceof UserError || !e.code) throw e;
      return this.workflow(req, back, { msg: `${what} failed: ${e.message} (${e.code})`, error: true });
    }
    throw new UserError('unknown action', 404);
  }

  /* -------------------------------------------------------- task queues */

  async taskQueues(req, url) {
    const ns = url.searchParams.get('ns') || this.opts.namespace;
    const { nav } = await this.nav(ns, '/task-queues');
    const backlog = await this.q(
      `SELECT task_queue, kind, sum(tasks)::bigint AS tasks, min(oldest_ready_time) AS oldest,
              bool_and(matched) AS matched
       FROM durable.task_queue_backlog WHERE namespace = $1 GROUP BY 1, 2 ORDER BY 1, 2`,
      [ns],
    );
    const settings = await this.q('SELECT task_queue FROM durable.task_queues WHERE namespace = $1', [ns]);
    const queues = new Map();
    for (const s of settings) queues.set(s.task_queue, {});
    for (const b of backlog) {
      const q = queues.get(b.task_queue) || {};
      q[b.kind] = b;
      queues.set(b.task_queue, q);
    }
    const lat = await this.latency(ns);
    const names = [...queues.keys()].sort();
    for (const k of lat.byQueue.keys()) if (!queues.has(k)) names.push(k);
    const cell = (b) => (b ? `${b.tasks}${b.matched === false ? ' <span class="st st-failed">unmatched</span>' : ''}` : '0');
    const body = `<table id="task-queues"><tr><th>task queue</th><th>workflow backlog</th><th>activity backlog</th><th>oldest ready</th>
<th>schedule-to-start p50 / p99 (workflow)</th><th>schedule-to-start p50 / p99 (activity)</th></tr>
${names.map((n) => {
      const q = queues.get(n) || {};
      const oldest = [q.workflow?.oldest, q.activity?.oldest].filter(Boolean).sort((a, b) => a - b)[0];
      return `<tr><td><a class="tq" href="/task-queue${qs({ ns, name: n })}">${esc(n)}</a></td><td>${cell(q.workflow)}</td><td>${cell(q.activity)}</td>
<td>${ts(oldest)}</td><td>${lat.fmt(n, 'workflow')}</td><td>${lat.fmt(n, 'activity')}</td></tr>`;
    }).join('')}</table>
${names.length ? '' : '<p class="muted">No queue has a backlog or settings now.</p>'}
<form method="get" action="/task-queue"><input type="hidden" name="ns" value="${esc(ns)}"><input name="name" placeholder="task queue" required> <button>Describe</button></form>`;
    return page('Task queues', nav, body);
  }

  /** schedule-to-start latency per queue and kind from durable.metric_histograms, when it exists. */
  async latency(ns) {
    const out = { available: false, byQueue: new Map() };
    out.fmt = (q, kind) => {
      if (!out.available) return '<span class="muted latency">n/a</span>';
      const h = out.byQueue.get(q)?.get(kind);
      if (!h || !h.count) return '<span class="muted latency">no tasks</span>';
      return `<span class="latency">${fmtSeconds(h.p50)} / ${fmtSeconds(h.p99)} <span class="muted">(${h.count} task${h.count === 1 ? '' : 's'}, mean ${fmtSeconds(h.sum / h.count)})</span></span>`;
    };
    const [v] = await this.q("SELECT pg_catalog.to_regclass('durable.metric_histograms') IS NOT NULL AS hist, pg_catalog.to_regclass('durable.metrics') IS NOT NULL AS m");
    if (!v.hist) return out;
    let rows, sums = [];
    try {
      rows = await this.q(
        `SELECT labels->>'task_queue' AS queue, labels->>'kind' AS kind, le, count
         FROM durable.metric_histograms WHERE metric = 'durable_task_schedule_to_start_seconds'
           AND labels->>'namespace' = $1 ORDER BY 1, 2, le`,
        [ns],
      );
      if (v.m) {
        sums = await this.q(
          `SELECT labels->>'task_queue' AS queue, labels->>'kind' AS kind, value FROM durable.metrics
           WHERE metric = 'durable_task_schedule_to_start_seconds_sum' AND labels->>'namespace' = $1`,
          [ns],
        );
      }
    } catch {
      return out; // the view exists but cannot be read by this role: n/a
    }
    out.available = true;
    for (const r of rows) {
      if (!out.byQueue.has(r.queue)) out.byQueue.set(r.queue, new Map());
      const m = out.byQueue.get(r.queue);
      if (!m.has(r.kind)) m.set(r.kind, { buckets: [], sum: 0 });
      m.get(r.kind).buckets.push([Number(r.le), Number(r.count)]);
    }
    for (const s of sums) {
      const h = out.byQueue.get(s.queue)?.get(s.kind);
      if (h) h.sum = Number(s.value);
    }
    for (const m of out.byQueue.values()) {
      for (const h of m.values()) {
        h.count = h.buckets.length ? h.buckets[h.buckets.length - 1][1] : 0;
        h.p50 = quantile(h.buckets, 0.5);
        h.p99 = quantile(h.buckets, 0.99);
      }
    }
    return out;
  }

  async taskQueue(req, url) {
    const ns = url.searchParams.get('ns') || this.opts.namespace;
    const name = url.searchParams.get('name');
    if (!name) throw new UserError('missing task queue name');
    const { nav } = await this.nav(ns, '/task-queues');
    const backlog = await this.q(
      `SELECT kind, priority, build_id, requirement, tasks, oldest_ready_time, matched
       FROM durable.task_queue_backlog WHERE namespace = $1 AND task_queue = $2 ORDER BY kind, priority`,
      [ns, name],
    );
    let desc = null;
    let descErr = null;
    try {
      [{ d: desc }] = await this.q('SELECT durable.describe_task_queue($1, $2) AS d', [name, ns]);
    } catch (e) {
      descErr = e.code === '42501' ? 'Pollers and settings need the admin capability in the namespace.' : e.message;
    }
    const lat = await this.latency(ns);
    const pollers = desc?.pollers || [];
    const body = `<h2>Backlog by kind</h2><table id="backlog"><tr><th>kind</th><th>priority</th><th>build</th><th>requirement</th><th>tasks</th><th>oldest ready</th><th>a live poller can take them</th></tr>
${backlog.map((b) => `<tr><td>${esc(b.kind)}</td><td>${esc(b.priority)}</td><td>${esc(b.build_id)}</td><td>${esc(b.requirement)}</td><td>${esc(b.tasks)}</td><td>${ts(b.oldest_ready_time)}</td><td>${b.matched ? 'yes' : '<b>no</b>'}</td></tr>`).join('')}</table>
${backlog.length ? '' : '<p class="muted">No ready tasks.</p>'}
<h2>Schedule-to-start latency</h2><table id="latency"><tr><th>kind</th><th>p50 / p99</th></tr>
<tr><td>workflow</td><td>${lat.fmt(name, 'workflow')}</td></tr><tr><td>activity</td><td>${lat.fmt(name, 'activity')}</td></tr></table>
<h2>Pollers seen recently</h2>${descErr ? `<p class="msg" id="pollers-unavailable">${esc(descErr)}</p>` : pollers.length ? `<div id="pollers">${objTable(pollers)}</div>` : '<p class="muted" id="pollers">No poller in the last five minutes.</p>'}
${desc ? `<h2>describe_task_queue</h2>${json(omit(desc, ['pollers']))}` : ''}`;
    return page(`Task queue ${name}`, nav, body);
  }

  /* ---------------------------------------------------------- schedules */

  async schedules(req, url) {
    const ns = url.searchParams.get('ns') || this.opts.namespace;
    const { nav } = await this.nav(ns, '/schedules');
    if (!nav.schedules) return page('Schedules', nav, '<p class="muted">This database has no schedules (durable.schedules does not exist).</p>');
    const rows = await this.q('SELECT * FROM durable.schedules WHERE namespace = $1 ORDER BY schedule_id LIMIT 500', [ns]);
    const body = `<table id="schedule-list"><tr><th>schedule id</th><th>workflow type</th><th>spec</th><th>paused</th><th>note</th><th>next action</th></tr>
${rows.map((r) => `<tr><td><a class="sch" href="/schedule${qs({ ns, id: r.schedule_id })}">${esc(r.schedule_id)}</a></td><td>${esc(r.action?.workflow_type)}</td>
<td><code>${esc(JSON.stringify(r.spec))}</code></td><td>${r.paused ? 'paused' : ''}</td><td>${esc(r.note)}</td><td>${ts(r.next_action_time)}</td></tr>`).join('')}</table>
${rows.length ? '' : '<p class="muted">No schedules in this namespace.</p>'}`;
    return page('Schedules', nav, body);
  }

  async schedule(req, url, extra = {}) {
    const ns = url.searchParams.get('ns') || this.opts.namespace;
    const id = url.searchParams.get('id');
    if (!id) throw new UserError('missing schedule id');
    const { nav, priv } = await this.nav(ns, '/schedules');
    if (!nav.schedules) throw new UserError('this database has no schedules', 404);
    let d;
    try {
      [{ d }] = await this.q('SELECT durable.describe_schedule($1, $2) AS d', [id, ns]);
    } catch (e) {
      return page(`Schedule ${id}`, nav, `<div class="msg err">${esc(e.message)}</div>`);
    }
    const form = (action, label, fields, confirmText) =>
      `<form method="post" action="/schedule/${action}" id="form-${action}" data-confirm="${esc(confirmText)}" onsubmit="return confirm(this.dataset.confirm)">
<input type="hidden" name="token" value="${this.token}"><input type="hidden" name="ns" value="${esc(ns)}"><input type="hidden" name="id" value="${esc(id)}">${fields}
<button type="submit" id="do-${action}">${label}</button></form>`;
    const actions = [];
    const paused = d.state?.paused;
    if (!paused && priv.can.pause) actions.push(form('pause', 'Pause', '<input name="note" placeholder="note" size="14">', `Pause schedule ${id}?`));
    if (paused && priv.can.unpause) actions.push(form('unpause', 'Resume', '<input name="note" placeholder="note" size="14">', `Resume schedule ${id}?`));
    if (priv.can.trigger) actions.push(form('trigger', 'Trigger now', '', `Start schedule ${id}'s action now?`));
    const info = d.info || {};
    const body = `${extra.msg ? `<div class="msg${extra.error ? ' err' : ''}" id="message">${esc(extra.msg)}</div>` : ''}
<div class="actions" id="actions">${actions.join('') || '<p class="muted" id="no-actions">No actions for this role.</p>'}</div>
<table id="schedule-summary"><tr><th>state</th><td id="schedule-state">${paused ? 'paused' : 'active'}${d.state?.note ? ` — ${esc(d.state.note)}` : ''}</td></tr>
<tr><th>actions taken</th><td>${esc(info.action_count)}</td></tr><tr><th>skipped (overlap) / missed (catch-up window)</th><td>${esc(info.overlap_skipped)} / ${esc(info.missed_catchup_window)}</td></tr></table>
<h2>Spec</h2>${json(d.spec)}<h2>Action</h2>${json(d.action)}<h2>Policies</h2>${json(d.policies)}
<h2>Running workflows</h2>${(info.running_workflows || []).length ? objTable(info.running_workflows, (k, v, o) => (k === 'workflow_id' ? `<a href="/workflow${qs({ ns, id: v, run: o.run_id })}">${esc(v)}</a>` : undefined)) : '<p class="muted">none</p>'}
<h2>Recent actions</h2><div id="recent-actions">${(info.recent_actions || []).length ? objTable(info.recent_actions, (k, v, o) => (k === 'workflow_id' ? `<a href="/workflow${qs({ ns, id: v, run: o.run_id })}">${esc(v)}</a>` : undefined)) : '<p class="muted">none</p>'}</div>
<h2>Upcoming actions</h2><ul id="upcoming">${(info.next_action_times || []).map((t) => `<li>${ts(t)}</li>`).join('')}</ul>`;
    return page(`Schedule ${id}`, nav, body);
  }

  async scheduleAction(req, url, body) {
    if (body.get('token') !== this.token) throw new UserError('stale form: reload the page', 403);
    const what = url.pathname.split('/').pop();
    const ns = body.get('ns') || this.opts.namespace;
    const id = body.get('id');
    const priv = await this.privileges(ns);
    if (!['pause', 'unpause', 'trigger'].includes(what)) throw new UserError('unknown action', 404);
    if (!priv.can[what]) throw new UserError(`role ${priv.role} may not ${what} schedules in namespace ${ns}`, 403);
    const back = new URL(`/schedule${qs({ ns, id })}`, 'http://x');
    try {
      if (what === 'trigger') await this.q('SELECT durable.trigger_schedule($1, NULL, $2)', [id, ns]);
      else await this.q(`SELECT durable.${what}_schedule($1, $2, $3)`, [id, body.get('note') || null, ns]);
    } catch (e) {
      if (!e.code) throw e;
      return this.schedule(req, back, { msg: `${what} failed: ${e.message} (${e.code})`, error: true });
    }
    return this.schedule(req, back, { msg: { pause: 'Schedule paused.', unpause: 'Schedule resumed.', trigger: 'Schedule triggered.' }[what] });
  }

  /* ------------------------------------------------------------ routing */

  async handle(req, res) {
    const url = new URL(req.url, 'http://localhost');
    try {
      let html;
      if (req.method === 'GET') {
        const p = url.pathname;
        if (p === '/') {
          res.writeHead(302, { location: '/workflows' });
          return res.end();
        }
        if (p === '/healthz') {
          await this.q('SELECT 1');
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.end('ok\n');
        }
        const routes = { '/workflows': this.workflows, '/workflow': this.workflow, '/task-queues': this.taskQueues, '/task-queue': this.taskQueue, '/schedules': this.schedules, '/schedule': this.schedule };
        if (!routes[p]) throw new UserError('not found', 404);
        html = await routes[p].call(this, req, url);
      } else if (req.method === 'POST') {
        const body = new URLSearchParams(await readBody(req));
        if (url.pathname.startsWith('/workflow/')) html = await this.action(req, url, body);
        else if (url.pathname.startsWith('/schedule/')) html = await this.scheduleAction(req, url, body);
        else throw new UserError('not found', 404);
      } else {
        throw new UserError('method not allowed', 405);
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(html);
    } catch (e) {
      const status = e instanceof UserError ? e.status : 500;
      if (status === 500) console.error(e);
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>error</title><style>${CSS}</style><main><div class="msg err" id="error">${esc(e.message)}${e.code ? ` (${esc(e.code)})` : ''}</div><a href="/workflows">workflows</a></main>`);
    }
  }

  listen() {
    const server = http.createServer((req, res) => void this.handle(req, res));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve(server));
    });
  }
}

class UserError extends Error {
  constructor(msg, status = 400) {
    super(msg);
    this.status = status;
  }
}

/* ------------------------------------------------------------- helpers */

function readBody(req) {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      s += c;
      if (s.length > 1e6) req.destroy(new Error('body too large'));
    });
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

/** A JSON argument from a form field: empty is NULL; anything that is not JSON is sent as a string. */
function jsonArg(s) {
  if (s === null || s.trim() === '') return null;
  try {
    JSON.parse(s);
    return s;
  } catch {
    return JSON.stringify(s);
  }
}

/** Search attributes filter: a JSON object, or k=v pairs separated by commas (values parsed as JSON when they are). */
function parseSearchAttributes(s) {
  const t = s.trim();
  if (t.startsWith('{')) {
    try {
      return JSON.parse(t);
    } catch {
      throw new UserError('search attributes: not a JSON object');
    }
  }
  const o = {};
  for (const part of t.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 1) throw new UserError(`search attributes: "${part}" is not key=value`);
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    try {
      o[k] = JSON.parse(v);
    } catch {
      o[k] = v;
    }
  }
  return o;
}

function omit(o, keys) {
  const r = {};
  for (const [k, v] of Object.entries(o || {})) if (!keys.includes(k)) r[k] = v;
  return r;
}

function objTable(arr, cellFn = () => undefined) {
  const keys = [...new Set(arr.flatMap((o) => Object.keys(o)))];
  return `<table><tr>${keys.map((k) => `<th>${esc(k)}</th>`).join('')}</tr>${arr
    .map((o) => `<tr>${keys.map((k) => {
      const v = o[k];
      const c = cellFn(k, v, o);
      if (c !== undefined) return `<td>${c}</td>`;
      return `<td>${v !== null && typeof v === 'object' ? json(v, 2000) : esc(v)}</td>`;
    }).join('')}</tr>`)
    .join('')}</table>`;
}

/** A failure and its causes, outermost first. */
function causeChain(f) {
  const parts = [];
  let c = f;
  for (let depth = 0; c && depth < 20; depth++) {
    const rest = omit(c, ['message', 'cause', 'stack_trace', 'type']);
    parts.push(`<div class="cause"><b>${esc(c.type || c.failure_type || 'Failure')}</b>: ${esc(c.message ?? '')}
${Object.keys(rest).length ? json(rest, 3000) : ''}${c.stack_trace ? `<details><summary>stack trace</summary><pre>${esc(c.stack_trace)}</pre></details>` : ''}</div>`);
    c = c.cause;
  }
  return parts.join('');
}

function quantile(buckets, q) {
  const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
  if (!total) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of buckets) {
    if (count >= rank) {
      if (!isFinite(le)) return prevLe; // in the +Inf bucket: the last finite bound
      const inBucket = count - prevCount;
      return inBucket > 0 ? prevLe + ((le - prevLe) * (rank - prevCount)) / inBucket : le;
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}

function fmtSeconds(s) {
  if (!isFinite(s)) return 'n/a';
  if (s < 1) return `${(s * 1000).toFixed(s < 0.01 ? 2 : 1)} ms`;
  return `${s.toFixed(2)} s`;
}

/*
 * The compact timeline: one line per activity, timer, child, signal or
 * workflow task, from its first event to its last, placed on the run's time
 * axis; the events are listed on the line.
 */
function timeline(events, d) {
  if (!events.length) return '<p class="muted">no events</p>';
  const lanes = new Map();
  const lane = (key, label) => {
    if (!lanes.has(key)) lanes.set(key, { label, events: [] });
    return lanes.get(key);
  };
  const byId = new Map(events.map((e) => [Number(e.event_id), e]));
  for (const e of events) {
    const a = e.attributes || {};
    const t = e.event_type;
    let l;
    if (t === 'ActivityTaskScheduled') l = lane(`a${e.event_id}`, `activity ${a.activity_type ?? ''} (${a.activity_id ?? e.event_id})`);
    else if (t.startsWith('ActivityTask') && a.scheduled_event_id != null) {
      const s = byId.get(Number(a.scheduled_event_id));
      l = lane(`a${a.scheduled_event_id}`, `activity ${s?.attributes?.activity_type ?? ''} (${s?.attributes?.activity_id ?? a.scheduled_event_id})`);
    } else if (t === 'TimerStarted') l = lane(`t${e.event_id}`, `timer ${a.timer_id ?? ''}`);
    else if ((t === 'TimerFired' || t === 'TimerCanceled') && a.started_event_id != null) l = lane(`t${a.started_event_id}`, `timer ${a.timer_id ?? ''}`);
    else if (t === 'StartChildWorkflowExecutionInitiated' || t === 'SignalExternalWorkflowExecutionInitiated' || t === 'RequestCancelExternalWorkflowExecutionInitiated')
      l = lane(`c${e.event_id}`, `${t.startsWith('Start') ? 'child' : t.startsWith('Signal') ? 'signal external' : 'cancel external'} ${a.workflow_id ?? a.workflow_execution?.workflow_id ?? ''}`);
    else if (a.initiated_event_id != null) l = lane(`c${a.initiated_event_id}`, `child ${a.workflow_execution?.workflow_id ?? ''}`);
    else if (t === 'WorkflowTaskScheduled') l = lane(`w${e.event_id}`, 'workflow task');
    else if (t.startsWith('WorkflowTask') && a.scheduled_event_id != null) l = lane(`w${a.scheduled_event_id}`, 'workflow task');
    else l = lane(`e${e.event_id}`, t.replace(/^WorkflowExecution/, 'workflow '));
    l.events.push(e);
  }
  const t0 = new Date(events[0].event_time).getTime();
  const tEnd = Math.max(new Date(events[events.length - 1].event_time).getTime(), d.close_time ? new Date(d.close_time).getTime() : 0);
  const span = Math.max(tEnd - t0, 1);
  const rows = [...lanes.values()].map((l) => {
    const a = new Date(l.events[0].event_time).getTime();
    const b = new Date(l.events[l.events.length - 1].event_time).getTime();
    const lastType = l.events[l.events.length - 1].event_type;
    const cls = /Failed|TimedOut|Terminated/.test(lastType) ? 'failed' : l.events.length === 1 && /Scheduled|Started|Initiated/.test(lastType) ? 'open' : '';
    const left = ((a - t0) / span) * 100;
    const width = Math.max(((b - a) / span) * 100, 0.6);
    return `<tr><td>${esc(l.label)}</td><td>${l.events.map((e) => `<span title="${ts(e.event_time)}">${esc(e.event_id)} ${esc(e.event_type.replace(/^(ActivityTask|WorkflowTask|Timer)/, ''))} +${((new Date(e.event_time).getTime() - t0) / 1000).toFixed(3)}s</span>`).join(' → ')}</td>
<td><div class="tl"><span class="${cls}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></span></div></td></tr>`;
  });
  return `<table id="timeline"><tr><th>what</th><th>events (time since start)</th><th style="width:35%">when</th></tr>${rows.join('')}</table>`;
}

/* ---------------------------------------------------------------- main */

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`durable-ui: ${e.message}`);
    process.exit(2);
  }
  if (opts.help || !opts.databaseUrl) {
    console.error('usage: node ui/server.js --database-url postgresql://ROLE@HOST/DB [--port 8233] [--host 127.0.0.1] [--namespace default] [--read-only]\n' +
      '       (or DATABASE_URL in the environment; the role needs durable_client or a capability in a namespace)');
    process.exit(opts.help ? 0 : 2);
  }
  const app = new App(opts);
  await app.q('SELECT 1'); // fail early on a bad URL
  const server = await app.listen();
  const addr = server.address();
  console.log(`durable-ui listening on http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}/`);
  const stop = () => {
    server.close(() => app.pool.end().then(() => process.exit(0)));
    server.closeAllConnections(); // browsers' idle keep-alive connections
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(`durable-ui: ${e.message}`);
    process.exit(1);
  });
}

module.exports = { App, parseArgs, parseSearchAttributes, quantile, timeline };
