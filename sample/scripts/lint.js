'use strict';
// lint: every JavaScript file parses (node --check) and uses strict mode.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { root, jsFiles, workspaceDirs } = require('./workspaces');

const files = [...jsFiles(path.join(root, 'scripts')), ...workspaceDirs().flatMap(jsFiles)];
const problems = [];
for (const file of files) {
  try {
    execFileSync(process.execPath, ['--check', file], { stdio: 'pipe' });
  } catch (err) {
    problems.push(`${path.relative(root, file)}: ${String(err.stderr).trim()}`);
  }
  if (!fs.readFileSync(file, 'utf8').startsWith("'use strict';")) {
    problems.push(`${path.relative(root, file)}: does not start with 'use strict';`);
  }
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`lint: ${files.length} files clean`);
