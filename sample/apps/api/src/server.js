'use strict';
const { startService, sendJson } = require('@metaboost-sample/service-kit');
const { version } = require('../package.json');

startService({
  app: 'api',
  version,
  defaultPort: 4000,
  routes: {
    'GET /': (req, res) => sendJson(res, 200, { app: 'api', message: 'Metaboost sample API' }),
  },
});
