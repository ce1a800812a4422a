import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { connect } from '@breakwater/socket';
import { expect, it } from 'vitest';
import { fm05 } from '../../packages/scorecard/src/scenarios/fm-05.js';
import { describeNetns, topology, useCleanup } from '../support/netns.js';
import { ECHO_SERVER } from '../support/programs.js';
import { reportResult, seconds } from '../support/report.js';
import { scenarioResult } from '../support/scenario.js';
import { type SocketWatch, tcpInfo } from '../support/sockets.js';

/**
 * FM-05, silent SYN drop: a firewall, a full conntrack table or a full
 * accept queue drops the SYN without answering. `net.connect` has no
 * connect timeout: only the kernel's SYN retries end it. If the rule did not
 * drop, the connect would succeed at once and the test would fail. The first
 * test runs the scorecard's scenario and looks at the naive socket after its
 * window; the second drops SYNs to one of two addresses only.
 */

/** Waiting for the kernel to give up is only worth it on kernels that give up soon. */
const MAX_GIVE_UP_WAIT_MS = 30_000;

function sysctl(key: string, fallback: number): number {
  try {
    return Number(readFileSync(`/proc/sys/net/ipv4/${key}`, 'utf8'));
  } catch {
    return fallback;
  }
}

/**
 * When the kernel reports ETIMEDOUT for an unanswered SYN: initial RTO 1 s,
 * doubling after each of tcp_syn_retries retransmissions (1+2+…+64 = 127 s).
 * Linux ≥ 6.5 first makes tcp_syn_linear_timeouts (default 4) extra
 * retransmissions 1 s apart: 4 + 127 = 131 s (134 s measured on Linux 6.18,
 * so treat it as a lower bound).
 */
function synGiveUpMs(): number {
  const retries = sysctl('tcp_syn_retries', 6);
  const linear = sysctl('tcp_syn_linear_timeouts', 0);
  let total = 0;
  for (let i = 0; i <= retries + linear; i++) total += Math.min(120, i < linear ? 1 : 2 ** (i - linear));
  return total * 1000;
}

describeNetns('FM-05 silent SYN drop', () => {
  const defer = useCleanup();

  it('the scenario: net.connect is still pending after 10 s (SYN-SENT); connect() fails within connect timeout + 0.5 s', async () => {
    const giveUpMs = synGiveUpMs();
    // On kernels that give up soon, measure it: the only "timeout" a naive client gets.
    const waitForGiveUp = giveUpMs <= MAX_GIVE_UP_WAIT_MS;
    let state: string | undefined;
    let connecting: boolean | undefined;
    let retransmits: number | undefined;
    let end: Awaited<ReturnType<SocketWatch['next']>>;
    let endedAfter = 0;
    const result = await scenarioResult(
      fm05({
        inspectMs: waitForGiveUp ? giveUpMs * 1.2 + 3_000 : 0,
        async inspect({ topology, naive, startedAt }) {
          connecting = naive.socket.connecting;
          const info = await tcpInfo(naive.socket, topology.server.address);
          state = info?.state;
          retransmits = info?.retransmits;
          if (!waitForGiveUp) return;
          end = await naive.next(['connect', 'error'], giveUpMs * 1.2 + 3_000 - (performance.now() - startedAt));
          endedAfter = performance.now() - startedAt;
        },
      }),
    );
    expect(result.naive.ok, `the connect finished: the SYN was not dropped (${result.naive.text})`).toBe(true);
    expect(connecting).toBe(true);
    expect(state).toBe('SYN-SENT');
    reportResult(
      { fm: 'FM-05', side: 'naive', metric: 'pendingSeconds', value: result.naive.value, unit: 's' },
      `connect still pending after ${result.naive.value} s, no error (${state}, ${retransmits} SYN retransmissions so far; ` +
        `tcp_syn_retries/tcp_syn_linear_timeouts here make the kernel give up after about ${seconds(giveUpMs)} s)`,
    );
    expect(result.breakwater.ok, result.breakwater.text).toBe(true);
    if (waitForGiveUp) {
      expect(end?.type).toBe('error');
      expect(end?.error?.code).toBe('ETIMEDOUT');
      reportResult(
        { fm: 'FM-05', side: 'naive', metric: 'connectErrorSeconds', value: Number(seconds(endedAfter)), unit: 's' },
        `ETIMEDOUT after ${seconds(endedAfter)} s`,
      );
    }
  });

  it('breakwater: BW_ERR_CONNECT_TIMEOUT within connect timeout + 0.5 s; a second address that answers is used', async () => {
    const topo = await topology(defer);
    const server = topo.server.spawnNode(ECHO_SERVER);
    const { port } = (await server.ready) as { port: number };
    // A second address on the server (a /32 on its veth, routed from the
    // client), so SYNs to the first can be dropped while the second answers.
    const [a, b, c] = topo.subnet.split('.');
    const second = `${a}.${b}.${c}.200`;
    await topo.server.exec('ip', ['addr', 'add', `${second}/32`, 'dev', topo.server.interfaces[0]?.name ?? '']);
    await topo.client.exec('ip', ['route', 'add', `${second}/32`, 'via', topo.server.address]);
    await topo.server.nft.add([{ chain: 'input', expression: `ip daddr ${topo.server.address} tcp dport ${port} tcp flags & (syn | ack) == syn drop` }]);

    const connectTimeoutMs = 2_000;
    const started = performance.now();
    const err = await connect({ host: topo.server.address, port, connectTimeoutMs }).then(
      (s) => {
        s.destroy();
        return undefined;
      },
      (e: unknown) => e,
    );
    const failedAfter = performance.now() - started;
    expect(err).toMatchObject({ code: 'BW_ERR_CONNECT_TIMEOUT', retryable: true, hint: expect.stringMatching(/SYN/) });
    expect(failedAfter).toBeLessThanOrEqual(connectTimeoutMs + 500);

    const t0 = performance.now();
    const socket = await connect({ addresses: [topo.server.address, second], port, connectTimeoutMs });
    const connectedAfter = performance.now() - t0;
    defer(() => socket.destroy());
    expect(socket.remoteAddress).toBe(second);
    expect(connectedAfter).toBeLessThan(connectTimeoutMs);

    reportResult(
      { fm: 'FM-05', side: 'breakwater', metric: 'connectTimeoutSeconds', value: Number(seconds(failedAfter)), unit: 's' },
      `BW_ERR_CONNECT_TIMEOUT after ${seconds(failedAfter)} s (connectTimeoutMs ${connectTimeoutMs}); with a second address: connected to it after ${connectedAfter.toFixed(0)} ms`,
    );
  });
});
