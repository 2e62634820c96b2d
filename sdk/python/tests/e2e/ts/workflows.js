// The interop workflow, TypeScript side (test_interop.py has the Python
// side): same type name, activity types and ids, timer, signal and result.
// Plain CommonJS on the built TypeScript SDK (sdk/typescript/dist), so the
// Python suite needs no TypeScript compile step of its own.
const wf = require('../../../../typescript/dist/src/workflow');

const { interopGreet, interopCheck, interopShip } = wf.proxyActivities({ startToCloseTimeout: '5s' });
const approve = wf.defineSignal('approve');
const stage = wf.defineQuery('stage');

async function InteropOrder(name) {
  let by;
  let at = 'greeting';
  wf.setHandler(approve, (who) => { by = who; });
  wf.setHandler(stage, () => at);
  const patched = wf.patched('interop-patch');        // marker core_patch
  const greeting = await interopGreet(name);          // activity "1"
  let rejected = null;
  try {
    await interopCheck(greeting);                     // activity "2": fails, not retryable
  } catch (err) {
    const c = err.cause;
    rejected = { activityFailure: err instanceof wf.ActivityFailure, type: c.type, message: c.message, details: c.details, nonRetryable: c.nonRetryable };
  }
  at = 'sleeping';
  await wf.sleep(200);                                // timer "1"
  at = 'waiting';
  await wf.condition(() => by !== undefined);         // the signal "approve"
  at = 'shipping';
  const shipped = await interopShip(greeting, by);    // activity "3"
  return { greeting, shipped, approvedBy: by, patched, rejected };
}

module.exports = { InteropOrder };
