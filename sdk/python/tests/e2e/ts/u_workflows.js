// The update and local-activity interop workflows, TypeScript side
// (test_interop_updates.py has the Python side): same type names, handler
// names, activity types and ids, timers and results. Plain CommonJS on the
// built TypeScript SDK (sdk/typescript/dist).
const wf = require('../../../../typescript/dist/src/workflow');

const { interopDouble } = wf.proxyActivities({ startToCloseTimeout: '5s' });
const add = wf.defineUpdate('add');
const compute = wf.defineUpdate('compute');
const finish = wf.defineUpdate('finish');
const items = wf.defineQuery('items');

async function InteropUpdates(owner) {
  const list = [];
  let done = false;
  wf.setHandler(add, (item) => {
    list.push(item);
    return list.length;
  }, {
    validator: (item) => {
      if (!item) throw wf.ApplicationFailure.create({ message: 'empty item', type: 'EmptyItem' });
    },
  });
  wf.setHandler(compute, async (x) => {
    const v = await interopDouble(x);                 // an activity in the handler
    await wf.sleep(100);                              // and a timer
    return { v, id: wf.currentUpdateInfo().id };
  });
  wf.setHandler(finish, () => {
    done = true;
    return list.length;
  });
  wf.setHandler(items, () => list);
  await wf.condition(() => done);
  await wf.condition(wf.allHandlersFinished);
  return { owner, list };
}

const local = wf.proxyLocalActivities({
  startToCloseTimeout: '5s',
  localRetryThreshold: '100ms',
  retry: { initialInterval: '200ms', backoffCoefficient: 1 },
});
const go = wf.defineSignal('go');

async function InteropLocal(key) {
  let going = false;
  wf.setHandler(go, () => { going = true; });
  const a = await local.interopDouble(3);             // local, seq 1
  const b = await interopDouble(a);                   // activity "2"
  const c = await local.interopFlaky(key, 1);         // local, seq 3 fails; timer "1"; seq 4 succeeds
  await wf.condition(() => going);
  const d = await local.interopDouble(c.length);      // local, seq 5
  return [a, b, c, d];
}

module.exports = { InteropUpdates, InteropLocal };
