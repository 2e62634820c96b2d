// The child-workflow interop workflows, TypeScript side (test_interop_children.py
// has the Python side): the same types, child ids (the first one by default,
// from uuid4()), signals, external handles and cancellation, so that each
// SDK replays the other's histories.  Plain CommonJS on the built SDK.
const wf = require('../../../../typescript/dist/src/workflow');

const poke = wf.defineSignal('poke');
const proceed = wf.defineSignal('proceed');

async function InteropKid(name) {
  let got;
  wf.setHandler(poke, (v) => { if (got === undefined) got = v; });
  await wf.condition(() => got !== undefined);
  return `${name} got ${got}`;
}

async function InteropFailingKid(why) {
  throw wf.ApplicationFailure.nonRetryable(`kid says ${why}`, 'KidBroke', { code: 5 });
}

async function InteropFamily(name) {
  const id = wf.workflowInfo().workflowId;
  let go = false;
  wf.setHandler(proceed, () => { go = true; });
  const kid = await wf.startChild(InteropKid, { args: [name] });             // default id: uuid4()
  await wf.condition(() => go);                                               // the test may switch workers here
  await kid.signal(poke, 'hello');
  const kidResult = await kid.result();
  let failed = null;
  try {
    await wf.executeChild('InteropFailingKid', { args: ['no'], workflowId: `${id}-f` });
  } catch (e) {
    failed = { error: e.name, type: e.cause.type, message: e.cause.message, details: e.cause.details };
  }
  await wf.getExternalWorkflowHandle(`${id}-target`).signal(poke, 'from family');
  let missing = null;
  try {
    await wf.getExternalWorkflowHandle(`${id}-missing`).cancel();
  } catch (e) {
    missing = e.message;
  }
  const scope = new wf.CancellationScope();
  const kid2 = await scope.run(() => wf.startChild(InteropKid, { args: ['never'], workflowId: `${id}-c` }));
  scope.cancel();                                                             // WAIT_CANCELLATION_COMPLETED
  let cancelled = null;
  try {
    await kid2.result();
  } catch (e) {
    cancelled = { error: e.name, message: e.cause.message };
  }
  return { kid: kid.workflowId, kidResult, failed, missing, cancelled };
}

// A child cancelled with each cancellation type (the Python side: InteropCancelTypes).
async function InteropCancelTypes(ctype) {
  const id = wf.workflowInfo().workflowId;
  const scope = new wf.CancellationScope();
  const kid = await scope.run(() => wf.startChild(InteropKid, {
    args: [ctype], workflowId: `${id}-k`, cancellationType: ctype, parentClosePolicy: 'ABANDON',
  }));
  scope.cancel();
  let out = null;
  try {
    await kid.result();
  } catch (e) {
    out = { error: e.name, cause: e.cause.name, message: e.cause.message };
  }
  if (ctype === 'ABANDON') await kid.signal(poke, 'after abandon');         // it runs on, uncancelled
  return out;
}

module.exports = { InteropKid, InteropFailingKid, InteropFamily, InteropCancelTypes };
