'use strict';
// Runtime-config sidecar of the web app: serves its NEXT_PUBLIC_* variables as the app's runtime config.
const { serveSidecar } = require('@metaboost-sample/runtime-config');
const { version } = require('../package.json');

serveSidecar({ app: 'web-sidecar', version, defaultPort: 3001 });
