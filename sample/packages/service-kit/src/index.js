'use strict';
// A tiny HTTP service frame shared by the six sample apps: it listens on
// $PORT, answers /healthz, replies with JSON, logs one line per request and
// stops cleanly on SIGTERM/SIGINT (containers get SIGTERM on stop).
const http = require('node:http');

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendHtml(res, status, html) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
  });
  res.end(html);
}

function portFromEnv(env, defaultPort) {
  const raw = env.PORT;
  if (raw === undefined || raw === '') return defaultPort;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a TCP port number, got ${JSON.stringify(raw)}`);
  }
  return port;
}

// routes: { 'GET /path': async (req, res) => ... }
function startService({ app, version, defaultPort, routes = {}, env = process.env }) {
  const port = portFromEnv(env, defaultPort);
  const started = Date.now();
  const table = {
    'GET /healthz': (req, res) =>
      sendJson(res, 200, { status: 'ok', app, version, uptimeMs: Date.now() - started }),
    ...routes,
  };
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, 'http://localhost').pathname;
    const handler = table[`${req.method} ${path}`];
    try {
      if (handler) await handler(req, res);
      else sendJson(res, 404, { error: 'not found', path });
    } catch (err) {
      sendJson(res, 500, { error: String((err && err.message) || err) });
    }
    console.log(`${app} ${req.method} ${path} ${res.statusCode}`);
  });
  server.listen(port, '0.0.0.0', () => {
    console.log(`${app} ${version} listening on port ${server.address().port}`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return server;
}

module.exports = { startService, sendJson, sendHtml, portFromEnv };
