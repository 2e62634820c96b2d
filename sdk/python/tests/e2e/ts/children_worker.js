// The TypeScript SDK worker (or replayer) of test_interop_children.py: the
// workflows of children_workflows.js, no activities (how to run it:
// _worker.js; its replay takes the workflow id).
require('./_worker')(require.resolve('./children_workflows.js'), {});
