// The TypeScript SDK worker (or replayer) of test_interop.py: the workflows
// of workflows.js with these activities (how to run it: _worker.js).
const { ApplicationFailure } = require('../../../../typescript/dist/src');

require('./_worker')(require.resolve('./workflows.js'), {
  async interopGreet(name) { return `hello ${name}`; },
  async interopCheck(greeting) {
    throw ApplicationFailure.nonRetryable(`rejected: ${greeting}`, 'Rejected', 'why', { code: 7 });
  },
  async interopShip(greeting, by) { return `${greeting}, shipped (approved by ${by})`; },
});
