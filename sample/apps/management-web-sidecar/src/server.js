'use strict';
// Runtime-config sidecar of the management web app: serves its NEXT_PUBLIC_* variables as the app's runtime config.
const { serveSidecar } = require('@metaboost-sample/runtime-config');
const { version } = require('../package.json');

serveSidecar({ app: 'management-web-sidecar', version, defaultPort: 3101 });
