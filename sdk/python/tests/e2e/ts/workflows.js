// The interop workflow, TypeScript side (test_interop.py has the Python
// side): same type name, activity types and ids, timer, signal and result.
// Plain CommonJS on the built TypeScript SDK (sdk/typescript/dist), so the
// Python suite needs no TypeScript compile step of its own.
const wf = require('../../../../typescript/dist/src/workflow');

const { interopGreet, interopShip } = wf.proxyActivities({ startToCloseTimeout: '5s' });
const approve = wf.defineSignal('approve');
const stage = wf.defineQuery('stage');

async function InteropOrder(name) {
  let by;
  let at = 'greeting';
  wf.setHandler(approve, (who) => { by = who; });
  wf.setHandler(stage, () => at);
  const greeting = await interopGreet(name);          // activity "1"
  at = 'sleeping';
  await wf.sleep(200);                                // timer "1"
  at = 'waiting';
  await wf.condition(() => by !== undefined);         // the signal "approve"
  at = 'shipping';
  const shipped = await interopShip(greeting, by);    // activity "2"
  return { greeting, shipped, approvedBy: by };
}

module.exports = { InteropOrder };
