/**
 * Issue 9, point 5: extension points with Temporal's shapes.
 *
 * Temporal's documentation and sources followed:
 *   - interceptors: https://docs.temporal.io/develop/typescript/interceptors;
 *     temporalio/sdk-typescript packages/workflow/src/interceptors.ts (inbound
 *     execute/handleSignal/handleQuery, outbound scheduleActivity/startTimer/
 *     continueAsNew; `export const interceptors = () => ({ inbound, outbound })`
 *     in a module of WorkerOptions.interceptors.workflowModules),
 *     packages/worker/src/interceptors.ts (activityInbound factories of the
 *     Context), packages/client/src/interceptors.ts (WorkflowClientInterceptor),
 *     packages/common/src/interceptors.ts (composeInterceptors: the first of a
 *     list is the outermost);
 *   - sinks: packages/workflow/src/sinks.ts and packages/worker/src/sinks.ts
 *     (proxySinks; InjectedSinkFunction.callDuringReplay, default false);
 *   - data converter: https://docs.temporal.io/develop/typescript/converters-and-encryption
 *     (payloadCodecs run outside the sandbox, applied in order on encode and in
 *     reverse on decode) and samples-typescript encryption/src/encryption-codec.ts;
 *   - typed search attributes: packages/common/src/search-attributes.ts
 *     (defineSearchAttributeKey, TypedSearchAttributes.get/getAll,
 *     upsertSearchAttributes with {key, value} pairs, null removes);
 *   - OpenTelemetry: packages/interceptors-opentelemetry/src (span names
 *     StartWorkflow/RunWorkflow/StartActivity/RunActivity/SignalWorkflow/
 *     HandleSignal, trace context in the `_tracer-data` header, workflow spans
 *     exported through the `exporter` sink made by makeWorkflowExporter).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AsyncLocalStorage } from 'node:async_hooks';
import { Context as OtelContext, ContextManager, ROOT_CONTEXT, context, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ApplicationFailure, Client, WorkflowClientInterceptor, WorkflowFailedError, defaultPayloadConverter } from '../../src';
import {
  OpenTelemetryActivityInboundInterceptor, OpenTelemetryWorkflowClientInterceptor, makeWorkflowExporter,
} from '../../src/interceptors-opentelemetry';
import { AesGcmCodec } from '../helpers/aes-codec';
import { Env, startEnv, waitFor } from '../helpers/env';
import { amountKey, customerKey, tagsKey } from '../workflows/extensions';

const WORKFLOWS = require.resolve('../workflows/extensions');
const WF_INTERCEPTORS = require.resolve('../workflows/ext-interceptors');
const OTEL_WORKFLOW = require.resolve('../../src/interceptors-opentelemetry/workflow');
const SECRET = 'TOP-SECRET-4242';

let env: Env;
const header = (h: Record<string, any>, k: string) => (h[k] ? defaultPayloadConverter.fromPayload(h[k]) : undefined);
const activities = {
  async failWith(secret: string) {
    throw ApplicationFailure.nonRetryable('failed on purpose', 'Secret', `${secret}-activity`);
  },
  async greet(name: string) {
    return `hello ${name}`;
  },
  async shout(s: string) {
    return s.toUpperCase();
  },
};

before(async () => {
  env = await startEnv();
});

after(async () => {
  await env?.stop();
});

describe('interceptors', () => {
  const order: string[] = [];
  const tag = (name: string): WorkflowClientInterceptor => ({
    async start(input, next) {
      order.push(`${name} start`);
      const headers = name === 'outer' ? { ...input.headers, client: defaultPayloadConverter.toPayload('from-client') } : input.headers;
      const runId = await next({ ...input, headers });
      order.push(`${name} started`);
      return runId;
    },
    async signal(input, next) {
      order.push(`${name} signal ${input.signalName}`);
      return next({ ...input, headers: { ...input.headers, client: defaultPayloadConverter.toPayload('from-client') } });
    },
    async query(input, next) {
      order.push(`${name} query ${input.queryType}`);
      return next({ ...input, headers: { ...input.headers, client: defaultPayloadConverter.toPayload('from-client') } });
    },
  });
  let client: Client;

  before(async () => {
    client = new Client({ connectionString: env.cluster.connectionString, interceptors: { workflow: [tag('outer'), tag('inner')] } });
    await env.startWorker({
      taskQueue: 'ext', workflowsPath: WORKFLOWS, activities,
      interceptors: {
        workflowModules: [WF_INTERCEPTORS],
        activityInbound: [(ctx) => ({
          async execute(input, next) {
            const r = await next(input);
            return `${r} [${header(input.headers, 'wf')}, attempt ${ctx.info.attempt}]`;
          },
        })],
      },
    });
  });

  after(async () => {
    await client.close();
  });

  it('client, workflow inbound/outbound and activity inbound interceptors see and change each call; headers travel', async () => {
    const h = await client.workflow.start('intercepted', { args: ['alice'], taskQueue: 'ext', workflowId: 'ext-intercepted' });
    assert.deepEqual(order.splice(0), ['outer start', 'inner start', 'inner started', 'outer started']);
    await waitFor(async () => (await h.fetchHistory()).some((e) => e.event_type === 'TimerFired'), 'the sleep');
    assert.deepEqual(await h.query('signals'), ['query signals header=from-client']);
    await h.signal('add', 'x');
    const r = await h.result() as any;
    assert.equal(r.greeting, 'hello alice! [from-workflow, attempt 1]');
    assert.deepEqual(r.signals, ['x+in']);
    assert.deepEqual(r.seen, [
      'execute header=from-client', 'second inbound (inner)', 'activity greet seq=1', 'timer 5 seq=1', 'signal add header=from-client',
    ]);
    assert.deepEqual(order.splice(0), ['outer query signals', 'inner query signals', 'outer signal add', 'inner signal add']);
    // where the headers are (no header field in the engine: the documented reserved envelope of the input)
    const hist = await h.fetchHistory();
    const started = hist[0].attributes.input;
    assert.deepEqual(started.args, ['alice']);
    assert.deepEqual(Object.keys(started.__durable_headers), ['client']);
    const scheduled = hist.find((e) => e.event_type === 'ActivityTaskScheduled')!.attributes.input;
    assert.deepEqual(scheduled.args, ['alice!']);
    assert.deepEqual(Object.keys(scheduled.__durable_headers), ['wf']);
  });

  // signal delivery as Temporal's workflow runtime does it (packages/workflow/src/internals.ts
  // activate(): the start job after the activation's other jobs; dispatchBufferedSignals;
  // signalWorkflowNextHandler: the inbound handleSignal interceptors wrap the handler and the
  // default handler alike, with the signal's own name and arguments)
  it('signalWithStart\'s signal and default-handler signals go through handleSignal, in delivery order', async () => {
    const h = await client.workflow.signalWithStart('mergedSignals', {
      workflowId: 'ext-merged-signals', taskQueue: 'ext', signal: 'add', signalArgs: ['a'],
    });
    // the later signals come in later workflow tasks
    await waitFor(async () => (await h.fetchHistory()).some((e) => e.event_type === 'WorkflowTaskCompleted'), 'the first workflow task');
    await h.signal('other', 'b');
    await h.signal('add', 'c');
    const r = await h.result() as any;
    assert.deepEqual(r.firstLine, ['add:a+in']);
    assert.deepEqual(r.got, ['add:a+in', 'default other:b+in', 'add:c+in']);
    assert.deepEqual(r.seen, [
      'execute header=undefined', 'second inbound (inner)', 'signal add header=undefined',
      'signal other header=from-client', 'signal add header=from-client',
    ]);
    order.splice(0);
  });

  it('outbound continueAsNew is intercepted', async () => {
    const r = await client.workflow.execute('continued', { args: [0], taskQueue: 'ext', workflowId: 'ext-can' }) as any;
    assert.equal(r.round, 1);
    assert.deepEqual(r.seen, ['execute header=continueAsNew continued', 'second inbound (inner)']);
    order.splice(0);
  });
});

describe('sinks', () => {
  it('proxySinks calls reach the worker once, not again on replay (unless callDuringReplay)', async () => {
    const audit: string[] = [];
    const replayed: string[] = [];
    await env.startWorker({
      taskQueue: 'ext-sinks', workflowsPath: WORKFLOWS, maxCachedWorkflows: 0, // every task replays from the start
      sinks: {
        audit: { record: { fn: (info, msg: string, n: number) => void audit.push(`${info.workflowId} ${info.workflowType} ${msg} ${n}`) } },
        replayed: { record: { fn: (info, msg: string) => void replayed.push(`${msg}${info.unsafe.isReplaying ? ' (replay)' : ''}`), callDuringReplay: true } },
      },
    });
    assert.equal(await env.client.workflow.execute('sinks', { taskQueue: 'ext-sinks', workflowId: 'ext-sinks-1' }), 'done');
    assert.deepEqual(audit, ['ext-sinks-1 sinks start 1', 'ext-sinks-1 sinks after sleep 2']);
    assert.deepEqual(replayed, ['start', 'start (replay)', 'after sleep']);
  });
});

describe('payload codec', () => {
  it('an AES-GCM codec encrypts every payload at rest; the workflow still runs and returns the right result', async () => {
    const codec = new AesGcmCodec('key-1', Buffer.alloc(32, 7));
    await env.startWorker({ taskQueue: 'crypt', workflowsPath: WORKFLOWS, activities, dataConverter: { payloadCodecs: [codec] } });
    const client = new Client({ connectionString: env.cluster.connectionString, dataConverter: { payloadCodecs: [codec] } });
    try {
      const h = await client.workflow.start('secrets', {
        args: [SECRET], taskQueue: 'crypt', workflowId: 'ext-secret', memo: { note: `${SECRET}-memo` },
      });
      await waitFor(async () => (await h.fetchHistory()).some((e) => e.event_type === 'ActivityTaskCompleted'), 'the activity');
      assert.equal(await h.query('echo', 'q'), `q/${SECRET}`);
      await h.signal('whisper', `${SECRET}-signal`);
      assert.deepEqual(await h.result(), {
        secret: SECRET, shouted: SECRET.toUpperCase(), signalled: `${SECRET}-signal`, memo: { note: `${SECRET}-memo` },
      });
      assert.deepEqual((await h.describe()).memo, { note: `${SECRET}-memo` });
      // failure details too: the activity's reach the workflow decoded, the workflow's reach the client decoded
      const err = await client.workflow.execute('failsWithSecret', { args: [SECRET], taskQueue: 'crypt', workflowId: 'ext-secret-failure' })
        .then(() => null, (e) => e);
      assert.ok(err instanceof WorkflowFailedError, String(err));
      assert.ok(err.cause instanceof ApplicationFailure);
      assert.deepEqual(err.cause.details, [`${SECRET}-workflow`]);
      // what a DBA sees: no table or view of schema durable shows the secret in clear text
      // (durable.history is the view of the events; durable.history_batches stores them)
      const tables = (await env.pool.query(
        "SELECT format('%I.%I', table_schema, table_name) AS t FROM information_schema.tables WHERE table_schema = 'durable'")).rows;
      assert.ok(tables.some((r) => r.t === 'durable.history') && tables.some((r) => r.t === 'durable.workflows'));
      for (const { t } of tables) {
        const n = (await env.pool.query(`SELECT count(*)::int AS n FROM ${t} x WHERE x::text ILIKE '%' || $1 || '%'`, [SECRET.slice(0, 10)])).rows[0].n;
        assert.equal(n, 0, `${t} has the secret in clear text`);
      }
      const row = (await env.pool.query("SELECT input, result FROM durable.workflows WHERE workflow_id = 'ext-secret'")).rows[0];
      const enc = (p: any) => Buffer.from(p.metadata.encoding, 'base64').toString();
      assert.equal(enc(row.input[0]), 'binary/encrypted');
      assert.equal(enc(row.result), 'binary/encrypted');
      const hist = (await env.pool.query(`SELECT event_type, attributes FROM durable.history
        WHERE run_id IN (SELECT run_id FROM durable.workflows WHERE workflow_id = 'ext-secret') ORDER BY event_id`)).rows;
      const signal = hist.find((e) => e.event_type === 'WorkflowExecutionSignaled')!;
      assert.equal(enc(signal.attributes.input[0]), 'binary/encrypted');
      const completed = hist.find((e) => e.event_type === 'ActivityTaskCompleted')!;
      assert.equal(enc(completed.attributes.result), 'binary/encrypted');
      // a client without the codec reads ciphertext payloads, not values
      const plain = await env.client.workflow.getHandle('ext-secret').result() as any;
      assert.equal(enc(plain), 'binary/encrypted');
      // the control: without a codec the same workflow leaves its input readable in durable.history
      const control = await env.client.workflow.start('secrets', { args: ['PLAIN-CONTROL-77'], taskQueue: 'crypt-plain', workflowId: 'ext-plain' });
      await waitFor(async () => (await env.pool.query(
        `SELECT count(*)::int AS n FROM durable.history WHERE run_id IN (SELECT run_id FROM durable.workflows WHERE workflow_id = 'ext-plain')
           AND attributes::text LIKE '%PLAIN-CONTROL-77%'`)).rows[0].n > 0,
      'the plain input in durable.history');
      await control.terminate();
    } finally {
      await client.close();
    }
  });
});

describe('payload codec: signal delivery, continue-as-new', () => {
  it('signalWithStart\'s encrypted signal is decoded before the first line; the default handler gets decoded arguments; continue-as-new\'s memo is encrypted too', async () => {
    const codec = new AesGcmCodec('key-1', Buffer.alloc(32, 7));
    await env.startWorker({ taskQueue: 'crypt-signals', workflowsPath: WORKFLOWS, dataConverter: { payloadCodecs: [codec] } });
    const client = new Client({ connectionString: env.cluster.connectionString, dataConverter: { payloadCodecs: [codec] } });
    try {
      const h = await client.workflow.signalWithStart('mergedSignals', {
        workflowId: 'ext-crypt-signals', taskQueue: 'crypt-signals', signal: 'add', signalArgs: [`${SECRET}-a`],
      });
      await waitFor(async () => (await h.fetchHistory()).some((e) => e.event_type === 'WorkflowTaskCompleted'), 'the first workflow task');
      await h.signal('other', `${SECRET}-b`);
      await h.signal('add', `${SECRET}-c`);
      assert.deepEqual(await h.result(), {
        firstLine: [`add:${SECRET}-a`], got: [`add:${SECRET}-a`, `default other:${SECRET}-b`, `add:${SECRET}-c`], seen: [],
      });
      const n = (await env.pool.query(`SELECT count(*)::int AS n FROM durable.history WHERE attributes::text LIKE '%' || $1 || '%'
        AND run_id IN (SELECT run_id FROM durable.workflows WHERE workflow_id = 'ext-crypt-signals')`, [SECRET])).rows[0].n;
      assert.equal(n, 0, 'a signal in clear text');
      // continue-as-new's memo (packages/workflow/src/workflow.ts makeContinueAsNewFunc: memo values are payloads)
      const c = await client.workflow.start('continuedWithMemo', { args: [SECRET], taskQueue: 'crypt-signals', workflowId: 'ext-crypt-can' });
      assert.deepEqual(await c.result(), { round: 1, memo: { note: `${SECRET}-memo` } });
      const rows = (await env.pool.query(`SELECT memo FROM durable.workflows WHERE workflow_id = 'ext-crypt-can' AND memo IS NOT NULL`)).rows;
      assert.equal(rows.length, 1);
      assert.equal(Buffer.from(rows[0].memo.note.metadata.encoding, 'base64').toString(), 'binary/encrypted');
      const clear = (await env.pool.query(`SELECT count(*)::int AS n FROM durable.history WHERE attributes::text LIKE '%' || $1 || '%'
        AND run_id IN (SELECT run_id FROM durable.workflows WHERE workflow_id = 'ext-crypt-can')`, [SECRET])).rows[0].n;
      assert.equal(clear, 0, 'the memo in clear text');
    } finally {
      await client.close();
    }
  });
});

describe('payload converter', () => {
  it('payloadConverterPath: the converter runs in the client, the workflow sandbox and activities (a Date stays a Date)', async () => {
    const dataConverter = { payloadConverterPath: require.resolve('../workflows/date-converter') };
    await env.startWorker({
      taskQueue: 'dates', workflowsPath: WORKFLOWS, dataConverter,
      activities: {
        async nextDay(d: Date) {
          if (!(d instanceof Date)) throw new TypeError('not a Date');
          return new Date(d.getTime() + 86_400_000);
        },
      },
    });
    const client = new Client({ connectionString: env.cluster.connectionString, dataConverter });
    try {
      const r = await client.workflow.execute('dates', { args: [new Date(Date.UTC(2026, 0, 1))], taskQueue: 'dates', workflowId: 'ext-dates' });
      assert.ok(r instanceof Date);
      assert.equal(r.toISOString(), '2026-01-02T00:00:01.000Z');
      const stored = (await env.pool.query("SELECT input FROM durable.workflows WHERE workflow_id = 'ext-dates'")).rows[0].input;
      assert.equal(Buffer.from(stored[0].metadata.encoding, 'base64').toString(), 'json/date');
    } finally {
      await client.close();
    }
  });
});

describe('typed search attributes', () => {
  it('defineSearchAttributeKey, typedSearchAttributes in workflowInfo, typed upsert and start', async () => {
    const h = await env.client.workflow.start('typedSearchAttributes', {
      taskQueue: 'ext', workflowId: 'ext-sa',
      typedSearchAttributes: [{ key: customerKey, value: 'c-42' }, { key: tagsKey, value: ['a', 'b'] }],
    });
    const r = await h.result() as any;
    assert.deepEqual(r, {
      customer: 'c-42', tags: ['a', 'b'], wrongType: null, amount: 42, due: '2030-01-01T00:00:00.000Z', dueIsDate: true,
      customerAfter: null, all: ['amount:INT', 'due:DATETIME', 'tags:KEYWORD_LIST'],
    });
    const d = await h.describe();
    assert.deepEqual(d.searchAttributes, { amount: 42, due: '2030-01-01T00:00:00.000Z', tags: ['a', 'b'] });
    assert.equal(d.typedSearchAttributes.get(amountKey), 42);
    assert.equal(amountKey.type, 'INT');
  });
});

/** The smallest AsyncLocalStorage context manager (what @opentelemetry/context-async-hooks provides). */
class TestContextManager implements ContextManager {
  private readonly als = new AsyncLocalStorage<OtelContext>();
  active(): OtelContext {
    return this.als.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: OtelContext, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
    return this.als.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: OtelContext, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    return this;
  }
}

describe('OpenTelemetry interceptors', () => {
  it('client start -> workflow run -> activity form one trace through the _tracer-data header; signals too', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    const tracer = provider.getTracer('test');
    await env.startWorker({
      taskQueue: 'otel', workflowsPath: WORKFLOWS, activities,
      interceptors: {
        workflowModules: [OTEL_WORKFLOW],
        activityInbound: [(ctx) => new OpenTelemetryActivityInboundInterceptor(ctx, { tracer })],
      },
      sinks: { exporter: makeWorkflowExporter(exporter) },
    });
    const client = new Client({
      connectionString: env.cluster.connectionString, interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer })] },
    });
    context.setGlobalContextManager(new TestContextManager());
    try {
      // the test's own span is the parent of both client calls: one trace from the client to the activity and the signal handler
      const root = tracer.startSpan('test');
      await context.with(trace.setSpan(context.active(), root), async () => {
        const h = await client.workflow.start('intercepted', { args: ['otel'], taskQueue: 'otel', workflowId: 'ext-otel' });
        await h.signal('add', 'y');
        await h.result();
      });
      root.end();
      const spans = await waitFor(async () => {
        const s = exporter.getFinishedSpans();
        return s.some((x) => x.name === 'RunWorkflow:intercepted') && s.some((x) => x.name === 'HandleSignal:add') ? s : undefined;
      }, 'the workflow spans') as ReadableSpan[];
      const byName = (n: string) => {
        const found = spans.filter((s) => s.name === n);
        assert.equal(found.length, 1, `${n}: ${spans.map((s) => s.name).join(', ')}`);
        return found[0];
      };
      const parentOf = (s: any) => s.parentSpanId ?? s.parentSpanContext?.spanId;
      const start = byName('StartWorkflow:intercepted');
      const run = byName('RunWorkflow:intercepted');
      const startActivity = byName('StartActivity:greet');
      const runActivity = byName('RunActivity:greet');
      const traceId = root.spanContext().traceId;
      const signal = byName('SignalWorkflow:add');
      const handle = byName('HandleSignal:add');
      for (const s of [start, run, startActivity, runActivity, signal, handle]) assert.equal(s.spanContext().traceId, traceId, s.name);
      assert.equal(parentOf(start), root.spanContext().spanId);
      assert.equal(parentOf(signal), root.spanContext().spanId);
      assert.equal(parentOf(run), start.spanContext().spanId);
      assert.equal(parentOf(startActivity), run.spanContext().spanId);
      assert.equal(parentOf(runActivity), startActivity.spanContext().spanId);
      assert.equal(parentOf(handle), signal.spanContext().spanId);
    } finally {
      context.disable();
      await client.close();
    }
  });
});
