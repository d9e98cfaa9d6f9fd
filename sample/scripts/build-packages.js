'use strict';
// build:packages: copy each shared package's src/ to dist/ (its "main").
const fs = require('node:fs');
const path = require('node:path');
const { root, workspaceDirs } = require('./workspaces');

for (const dir of workspaceDirs().filter((d) => d.startsWith(path.join(root, 'packages')))) {
  const dist = path.join(dir, 'dist');
  fs.rmSync(dist, { recursive: true, force: true });
  fs.cpSync(path.join(dir, 'src'), dist, { recursive: true });
  console.log(`built ${path.relative(root, dir)}`);
}
