// The TypeScript SDK worker (or replayer) of test_interop_updates.py: the
// workflows of u_workflows.js with these activities (how to run it:
// _worker.js).
const { ApplicationFailure } = require('../../../../typescript/dist/src');

const calls = {};
require('./_worker')(require.resolve('./u_workflows.js'), {
  async interopDouble(x) { return 2 * x; },
  async interopFlaky(key, failures) {
    calls[key] = (calls[key] || 0) + 1;
    if (calls[key] <= failures) throw ApplicationFailure.create({ message: `attempt ${calls[key]} fails`, type: 'Flaky' });
    return `ok after ${calls[key]}`;
  },
});
