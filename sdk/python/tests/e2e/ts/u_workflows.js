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

module.exports = { InteropUpdates };
