// One preset per environment, picked from an environment variable at start-up.
//
//   DEPLOY_TARGET=aws node example.mjs          behind an AWS ALB, production
//   DEPLOY_TARGET=kubernetes node example.mjs   pod to pod through a Service (kube-proxy / conntrack)
//   DEPLOY_TARGET=local node example.mjs        a laptop: nothing in the path, development
//   node example.mjs                            all three, then a combination that cannot work
//
// Self-contained: the server half is applied to a local http.Server on 127.0.0.1, nothing else is reached.
import http from 'node:http';
import { BreakwaterError } from '@breakwater/core';
import { hardenServer, resolvePreset } from '@breakwater/presets';

const TARGETS = {
  aws: { infra: 'aws-alb', env: 'production' },
  kubernetes: { infra: 'kubernetes', env: 'production' },
  local: { infra: 'direct', env: 'development' },
};

const ms = (v) => (Number.isFinite(v) ? `${v} ms` : 'no limit');

async function show(target) {
  const selection = TARGETS[target];
  if (selection === undefined) throw new Error(`DEPLOY_TARGET must be one of ${Object.keys(TARGETS).join(', ')}, got ${target}`);
  // Validated at start-up: a path whose timeouts contradict each other throws here, not at 3 a.m.
  const preset = resolvePreset(selection);
  console.log(`${target}: infra=${preset.infra} env=${preset.env}`);
  console.log(`  load balancer idle timeout ${ms(preset.loadBalancer.idleTimeoutMs)}, upstream idle ${ms(preset.loadBalancer.upstreamIdleTimeoutMs)}`);
  console.log(`  http: keepAliveTimeoutMs=${preset.http.keepAliveTimeoutMs} attempts=${preset.http.attempts} deadlineMs=${preset.http.deadlineMs}`);
  console.log(`  pool: idleTimeoutMs=${preset.pool.idleTimeoutMs} maxLifetimeMs=${preset.pool.maxLifetimeMs} leakWarningMs=${preset.pool.leakWarningMs}`);
  console.log(
    `  socket: keepAliveIdleMs=${preset.socket.keepAliveIdleMs} userTimeoutMs=${preset.socket.userTimeoutMs} connectTimeoutMs=${preset.socket.connectTimeoutMs}`,
  );

  // The server half: Node's keepAliveTimeout must outlive the load balancer's upstream idle (FM-16).
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const h = hardenServer(server, preset);
    console.log(
      `  server: keepAliveTimeout ${h.previous.keepAliveTimeoutMs} -> ${server.keepAliveTimeout} ms, headersTimeout ${h.previous.headersTimeoutMs} -> ${server.headersTimeout} ms`,
    );
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

const target = process.env.DEPLOY_TARGET;
if (target !== undefined && target !== '') {
  await show(target);
} else {
  for (const t of Object.keys(TARGETS)) await show(t);

  // A client idle timeout above the ALB's 60 s: requests would leave on connections the ALB is closing
  // (FM-07). resolvePreset() refuses it with a typed error naming both numbers.
  try {
    resolvePreset({ infra: 'aws-alb', env: 'production', overrides: { http: { keepAliveTimeoutMs: 70_000 } } });
  } catch (err) {
    if (!(err instanceof BreakwaterError)) throw err;
    console.log(`impossible: ${err.code} (${err.details.key} vs ${err.details.conflictsWith})`);
    console.log(`  ${err.message}`);
  }
  // A load balancer name that does not exist is refused the same way, naming the legal values.
  try {
    resolvePreset({ infra: 'aws-elb' });
  } catch (err) {
    if (!(err instanceof BreakwaterError)) throw err;
    console.log(`unknown: ${err.code} (${err.details.key})`);
    console.log(`  ${err.message}`);
  }
}
