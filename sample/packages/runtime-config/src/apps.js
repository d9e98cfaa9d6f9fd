'use strict';
// The two halves of the contract as runnable services: a web app (what
// web and management-web do) and its sidecar.
const { startService, sendJson, sendHtml } = require('@metaboost-sample/service-kit');
const { createRuntimeConfig, publicConfigFromEnv } = require('./contract');

const escapeHtml = (text) =>
  String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(app, used) {
  const rows = Object.entries(used.config)
    .map(([name, value]) => `<tr><td>${escapeHtml(name)}</td><td>${escapeHtml(value)}</td></tr>`)
    .join('');
  return (
    `<!doctype html><title>${escapeHtml(app)}</title>` +
    `<h1>${escapeHtml(app)}</h1><p>Runtime config from: ${escapeHtml(used.source)}</p>` +
    `<table>${rows}</table>`
  );
}

function serveWebApp({ app, version, defaultPort, env = process.env }) {
  let runtime;
  try {
    runtime = createRuntimeConfig({ env });
  } catch (err) {
    console.error(`${app}: ${err.message}`);
    process.exit(1);
  }
  const server = startService({
    app,
    version,
    defaultPort,
    env,
    routes: {
      'GET /runtime-config': async (req, res) => sendJson(res, 200, await runtime.current()),
      'GET /': async (req, res) => sendHtml(res, 200, page(app, await runtime.current())),
    },
  });
  runtime.prewarm().then((used) => console.log(`${app}: runtime config from ${used.source}`));
  return server;
}

function serveSidecar({ app, version, defaultPort, env = process.env }) {
  return startService({
    app,
    version,
    defaultPort,
    env,
    routes: {
      'GET /runtime-config': (req, res) => sendJson(res, 200, publicConfigFromEnv(env)),
    },
  });
}

module.exports = { serveWebApp, serveSidecar };
