'use strict';
// type-check: the monorepo's manifests agree: every workspace has a unique
// name and the root's version, and every workspace dependency names a
// workspace (the sample has no external dependencies).
const path = require('node:path');
const { root, readJson, workspaceDirs } = require('./workspaces');

const rootVersion = readJson(path.join(root, 'package.json')).version;
const manifests = workspaceDirs().map((dir) => ({ dir, pkg: readJson(path.join(dir, 'package.json')) }));
const names = new Set(manifests.map(({ pkg }) => pkg.name));
const problems = [];
if (names.size !== manifests.length) problems.push('two workspaces share a name');
for (const { dir, pkg } of manifests) {
  const where = path.relative(root, dir);
  if (pkg.version !== rootVersion) {
    problems.push(`${where}: version ${pkg.version}, root has ${rootVersion}`);
  }
  for (const dep of Object.keys(pkg.dependencies || {})) {
    if (!names.has(dep)) problems.push(`${where}: depends on ${dep}, which is not a workspace`);
  }
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`type-check: ${manifests.length} workspaces consistent at ${rootVersion}`);
