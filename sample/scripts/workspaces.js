'use strict';
// The workspace folders of the root package.json ("packages/*", "apps/*"),
// expanded without any dependency: one level of "*" is all the sample uses.
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

function workspaceDirs() {
  const { workspaces = [] } = readJson(path.join(root, 'package.json'));
  const dirs = [];
  for (const pattern of workspaces) {
    if (!pattern.endsWith('/*')) throw new Error(`unsupported workspace pattern ${pattern}`);
    const parent = path.join(root, pattern.slice(0, -2));
    for (const name of fs.readdirSync(parent).sort()) {
      if (fs.existsSync(path.join(parent, name, 'package.json'))) dirs.push(path.join(parent, name));
    }
  }
  return dirs;
}

function jsFiles(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...jsFiles(full));
    else if (entry.name.endsWith('.js')) out.push(full);
  }
  return out.sort();
}

module.exports = { root, readJson, workspaceDirs, jsFiles };
