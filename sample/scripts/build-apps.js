'use strict';
// build:apps: record what each app was built from (name, version) in dist/.
const fs = require('node:fs');
const path = require('node:path');
const { root, readJson, workspaceDirs } = require('./workspaces');

for (const dir of workspaceDirs().filter((d) => d.startsWith(path.join(root, 'apps')))) {
  const { name, version } = readJson(path.join(dir, 'package.json'));
  fs.mkdirSync(path.join(dir, 'dist'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'dist', 'build-info.json'), `${JSON.stringify({ name, version })}\n`);
  console.log(`built ${name}@${version}`);
}
