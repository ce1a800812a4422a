/**
 * Loaded with `--import` into every process of the undici conformance run (test/conformance/run.mjs).
 *
 * - Makes the vendored undici tests (test/conformance/vendor/undici/test/**) load the undici this repository
 *   depends on: their `require('../..')` and `require('../../lib/…')` point at the vendored tree's root,
 *   which holds only the tests, and are redirected to node_modules/undici.
 * - `@metcoder95/https-pem` (a self-signed certificate made by an install script) is served from the
 *   certificate the runner made with openssl (BW_CONFORMANCE_CERT / BW_CONFORMANCE_KEY).
 * - Installs the global dispatcher: `createClient().dispatcher` when BW_CONFORMANCE=breakwater, a plain
 *   undici `Agent` (the control) otherwise.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { createRequire, registerHooks } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const vendored = fileURLToPath(new URL('./vendor/undici/', import.meta.url));
const undiciRoot = path.dirname(require.resolve('undici/package.json'));
const shims = fileURLToPath(new URL('./shims/', import.meta.url));

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === '@metcoder95/https-pem') return nextResolve(path.join(shims, 'https-pem.cjs'), context);
    if (specifier.startsWith('.') && context.parentURL?.startsWith('file:')) {
      const target = path.resolve(path.dirname(fileURLToPath(context.parentURL)), specifier);
      if (target.startsWith(vendored.slice(0, -1)) && !target.startsWith(path.join(vendored, 'test'))) {
        const rest = path.relative(vendored, target);
        return nextResolve(require.resolve(path.join(undiciRoot, rest)), context);
      }
    }
    return nextResolve(specifier, context);
  },
});

const undici = require('undici');
const mode = process.env.BW_CONFORMANCE;
if (mode === 'breakwater' || mode === 'naive') {
  const { createClient } = await import('../../packages/http/dist/index.js');
  let dispatches = 0;
  // Innermost, after every default layer: counts what really went through the stack (the run is not
  // vacuous), and in `naive` mode hides the controller's raw headers as the old retry layer did, so the
  // comparison must find regressions.
  const probe = {
    role: 'conformance-probe',
    description: 'counts dispatches; in naive mode drops controller.rawHeaders',
    interceptor: (dispatch) => (opts, handler) => {
      dispatches++;
      if (mode !== 'naive') return dispatch(opts, handler);
      const hide = (c) =>
        c === null || c === undefined
          ? c
          : {
              abort: (r) => c.abort(r),
              pause: () => c.pause(),
              resume: () => c.resume(),
              get aborted() {
                return c.aborted;
              },
              get paused() {
                return c.paused;
              },
              get reason() {
                return c.reason;
              },
            };
      return dispatch(opts, {
        onRequestStart: (c, ctx) => handler.onRequestStart?.(hide(c), ctx),
        onRequestUpgrade: (c, s, h, sock) => handler.onRequestUpgrade?.(hide(c), s, h, sock),
        onResponseStart: (c, s, h, m) => handler.onResponseStart?.(hide(c), s, h, m),
        onResponseData: (c, d) => handler.onResponseData?.(hide(c), d),
        onResponseEnd: (c, t) => handler.onResponseEnd?.(hide(c), t),
        onResponseError: (c, e) => handler.onResponseError?.(hide(c), e),
      });
    },
  };
  const ours = new WeakSet();
  const install = undici.setGlobalDispatcher;
  const breakwater = (options) => {
    // One number differs from Breakwater's defaults: undici's keep-alive threshold (2 s; ours is 1 s). Tests
    // that fake setImmediate and reconnect after 3 fake seconds (eventsource/eventsource-reconnect.js) would
    // otherwise reuse a keep-alive socket (ours lives 4 s, undici's 3 s) and undici's client, scheduling the
    // write on the faked setImmediate, waits until the server closes it: 6 s per test on Node 24, past the
    // test timeout on Node 22. A plain Agent with a 1 s threshold does the same (docs/http-conformance.md).
    const own = options.dispatcher === undefined ? { keepAliveTimeoutThresholdMs: 2_000 } : {};
    const d = createClient({ ...own, ...options, layers: (defaults) => [...defaults, probe] }).dispatcher;
    ours.add(d);
    return d;
  };
  install(breakwater({}));
  // A test that installs its own Agent (client-fetch.js, integrity.js: keepAliveTimeout 1 ms) gets it
  // under Breakwater's layers, as `createClient({ dispatcher })` does (dns and balance then stay out).
  undici.setGlobalDispatcher = (d) => install(ours.has(d) ? d : breakwater({ dispatcher: d }));
  // A file, not stderr: node --test does not pass a test process's stderr on in every mode.
  const countFile = process.env.BW_CONFORMANCE_COUNT_FILE;
  if (countFile !== undefined) process.on('exit', () => appendFileSync(countFile, `${process.pid} ${dispatches}\n`));
} else {
  undici.setGlobalDispatcher(new undici.Agent());
}

// Read once so a missing certificate fails here, loudly, not inside a test.
if (process.env.BW_CONFORMANCE_CERT !== undefined) readFileSync(process.env.BW_CONFORMANCE_CERT);
