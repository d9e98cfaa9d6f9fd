'use strict';
// The runtime-config contract of Metaboost's web apps (seed: PUBLISH.md,
// "Runtime config lifecycle"), in a few lines:
// - RUNTIME_CONFIG_URL is the only variable a web app requires.
// - At start the app prewarms: it fetches its configuration from the sidecar,
//   retrying briefly (the sidecar may start a moment later).
// - Every page render fetches again; on failure it falls back to
//   getRuntimeConfig(): the last configuration the sidecar gave, else the
//   app's own environment.
// - The app exposes what it uses (GET /runtime-config) so it can be checked.
// The configuration itself is the NEXT_PUBLIC_* variables: the sidecar serves
// its own; the app's fallback is the app's own.
const PUBLIC_PREFIX = 'NEXT_PUBLIC_';

function publicConfigFromEnv(env) {
  const entries = Object.entries(env).filter(([name]) => name.startsWith(PUBLIC_PREFIX));
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries);
}

function requireConfigUrl(env) {
  const url = env.RUNTIME_CONFIG_URL;
  if (!url) {
    throw new Error(
      'RUNTIME_CONFIG_URL is not set. Set it to the sidecar\'s config URL, ' +
        'e.g. http://localhost:3001/runtime-config.',
    );
  }
  return new URL(url).toString();
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function fetchConfig(url, { attempts = 1, delayMs = 200, timeoutMs = 1000 } = {}) {
  let lastError = new Error('no attempt made');
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`sidecar answered HTTP ${res.status}`);
      const body = await res.json();
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new Error('sidecar answered something other than a JSON object');
      }
      return body;
    } catch (err) {
      lastError = err;
      if (attempt < attempts) await delay(delayMs);
    }
  }
  throw lastError;
}

function createRuntimeConfig({ env = process.env, prewarmAttempts = 10, prewarmDelayMs = 200 } = {}) {
  const url = requireConfigUrl(env);
  let fromSidecar = null; // what setRuntimeConfig last stored
  let lastError = null;

  const getRuntimeConfig = () =>
    fromSidecar
      ? { source: 'cache', config: fromSidecar }
      : { source: 'env', config: publicConfigFromEnv(env) };

  async function load(options) {
    try {
      fromSidecar = await fetchConfig(url, options);
      lastError = null;
      return { source: 'sidecar', config: fromSidecar };
    } catch (err) {
      lastError = String((err && err.message) || err);
      return getRuntimeConfig();
    }
  }

  return {
    url,
    prewarm: () => load({ attempts: prewarmAttempts, delayMs: prewarmDelayMs }),
    // What a page render uses: one quick attempt, then the fallback.
    current: async () => ({ ...(await load({ attempts: 1, timeoutMs: 500 })), url, lastError }),
    getRuntimeConfig,
  };
}

module.exports = { PUBLIC_PREFIX, publicConfigFromEnv, requireConfigUrl, fetchConfig, createRuntimeConfig };
