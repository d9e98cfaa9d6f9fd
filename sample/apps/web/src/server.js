'use strict';
// Metaboost sample web app: needs only RUNTIME_CONFIG_URL (its sidecar's config URL).
const { serveWebApp } = require('@metaboost-sample/runtime-config');
const { version } = require('../package.json');

serveWebApp({ app: 'web', version, defaultPort: 3000 });
