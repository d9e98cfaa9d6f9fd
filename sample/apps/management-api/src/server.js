'use strict';
const { startService, sendJson } = require('@metaboost-sample/service-kit');
const { version } = require('../package.json');

startService({
  app: 'management-api',
  version,
  defaultPort: 4100,
  routes: {
    'GET /': (req, res) => sendJson(res, 200, { app: 'management-api', message: 'Metaboost sample management API' }),
  },
});
