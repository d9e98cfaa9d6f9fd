'use strict';
// Metaboost sample management web app: needs only RUNTIME_CONFIG_URL (its sidecar's config URL).
const { serveWebApp } = require('@metaboost-sample/runtime-config');
const { version } = require('../package.json');

serveWebApp({ app: 'management-web', version, defaultPort: 3100 });
