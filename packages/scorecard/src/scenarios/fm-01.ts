import { connectWatched, ECHO_SERVER, echoRoundTrip, failureWithin, quietFor, SocketWatch } from '@breakwater/chaos';
import { connect, guardOf, SOCKET_DEFAULTS } from '@breakwater/socket';
import type { Scenario } from '../types.js';
import { failedInTime, progressEvery, readyPort, scenarioTopology, seconds, silence } from './kernel-support.js';

// FM-01, the zombie connection: an idle connection's peer crashes and no FIN
// or RST ever arrives. One topology, both clients idle on the same server:
// every packet of its port is dropped both ways, then the server is
// SIGKILLed (its FIN is dropped too). Naive: net.connect with
// setKeepAlive(true) (Node's delay: the kernel's 2 h). Breakwater: connect()
// with its defaults (keepalive 5 s + 2 s × 5).

/** The naive side is watched this long: past the Breakwater bound (≤ 17 s) with a margin. */
const NAIVE_WINDOW_MS = 20_000;
const DEFAULT_DETECT_MS = SOCKET_DEFAULTS.keepAliveIdleMs + SOCKET_DEFAULTS.keepAliveIntervalMs * SOCKET_DEFAULTS.keepAliveCount;

export const FM_01: Scenario = {
  id: 'FM-01',
  title: 'Zombie connection (idle peer gone, no FIN)',
  bound: 'error ≤ keepalive idle + interval × count + 2 s',
  naiveExpectation: `no error in ${seconds(NAIVE_WINDOW_MS)} s`,
  requires: ['netns'],
  budgetMs: 40_000,
  async run(ctx) {
    const topo = await scenarioTopology(ctx);
    const server = topo.server.spawnNode(ECHO_SERVER);
    const port = await readyPort(ctx, server.ready);

    const naive = await connectWatched(topo.server.address, port);
    ctx.defer(() => naive.socket.destroy());
    naive.socket.setKeepAlive(true);
    const hardened = new SocketWatch(await connect({ host: topo.server.address, port }));
    ctx.defer(() => hardened.socket.destroy());
    // The path works before the fault.
    await Promise.all([echoRoundTrip(naive, 'hello'), echoRoundTrip(hardened, 'hello')]);

    naive.mark();
    await topo.server.nft.blackholePort(port);
    await server.kill();
    progressEvery(ctx, (s) => `peer gone without FIN: watching both clients (${s} s of ${seconds(NAIVE_WINDOW_MS)})`);
    const [naiveEvent, failure] = await Promise.all([
      quietFor([naive], NAIVE_WINDOW_MS, undefined, ctx.signal),
      failureWithin(hardened, NAIVE_WINDOW_MS, ctx.signal),
    ]);
    ctx.signal.throwIfAborted();

    const keepAlive = guardOf(hardened.socket)?.applied.keepAlive;
    const boundMs = (keepAlive?.detectWithinMs ?? DEFAULT_DETECT_MS) + 2_000;
    return {
      naive: silence(naiveEvent, NAIVE_WINDOW_MS),
      // PEER_TIMEOUT from keepalive; STALLED should the watchdog see it first.
      breakwater: failedInTime(failure, NAIVE_WINDOW_MS, boundMs, ['BW_ERR_PEER_TIMEOUT', 'BW_ERR_STALLED']),
      notes: [
        `naive: net.connect + setKeepAlive(true) (Node's delay, i.e. the kernel's 2 h idle); the kernel would report nothing for ≈ 2 h 11 min`,
        `breakwater: connect() defaults, keepalive ${keepAlive?.mechanism ?? '?'} ${seconds(keepAlive?.idleMs ?? 0)} s + ${seconds(keepAlive?.intervalMs ?? 0)} s × ${keepAlive?.count ?? '?'}: bound ${seconds(boundMs)} s`,
      ],
    };
  },
};
