// @temporalio/client -> durable-sdk (see sdk/typescript/README.md, "Running a Temporal project on durable")
module.exports = require('../../../dist/src/temporal/client');
