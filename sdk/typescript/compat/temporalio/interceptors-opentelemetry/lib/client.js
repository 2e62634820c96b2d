module.exports = require('../../../../dist/src/temporal/interceptors-opentelemetry/lib/client');
