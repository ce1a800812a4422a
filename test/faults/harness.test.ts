import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { run } from '../../packages/chaos/src/netns/command.js';
import { createTopology, listNetnsResources, sweepStaleNetns } from '../../packages/chaos/src/netns/index.js';
import { isPidAlive } from '../../packages/chaos/src/netns/names.js';
import { describeNetns, topology, useCleanup } from '../support/netns.js';
import { ECHO_SERVER } from '../support/programs.js';
import { connect, echoRoundTrip, quietFor, SocketWatch } from '../support/sockets.js';

/** Proof that the harness does what the FM tests rely on, and cleans up after itself. */

const LOCK_DIR = '/run/breakwater/netns';

async function echoServer(topo: Awaited<ReturnType<typeof createTopology>>) {
  const server = topo.server.spawnNode(ECHO_SERVER);
  const { port } = (await server.ready) as { port: number };
  return { server, port };
}

/** Everything of the harness visible from the root namespace, as one string to search. */
async function rootState(): Promise<string> {
  const [ns, links, tables] = await Promise.all([run('ip', ['netns', 'list']), run('ip', ['-o', 'link', 'show']), run('nft', ['list', 'tables'])]);
  return `${ns}\n${links}\n${tables}`;
}

interface OwnerReport {
  namespaces: string[];
  links: string[];
  table: string;
  child: number;
  subnet: string;
}

/** Starts test/support/netns-owner.fixture.ts and waits for its report. */
async function startOwner(
  defer: (fn: () => unknown) => void,
  mode: 'wait' | 'exit' = 'wait',
): Promise<{ proc: ChildProcess; report: OwnerReport; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
  const hooks = fileURLToPath(new URL('../support/ts-hooks.ts', import.meta.url));
  const fixture = fileURLToPath(new URL('../support/netns-owner.fixture.ts', import.meta.url));
  const proc = spawn(process.execPath, ['--import', hooks, fixture, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
  defer(() => proc.kill('SIGKILL'));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let stderr = '';
  proc.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const report = await new Promise<OwnerReport>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fixture printed nothing in 15 s: ${stderr}`)), 15_000);
    proc.stdout?.once('data', (chunk) => {
      clearTimeout(timer);
      resolve(JSON.parse(String(chunk)) as OwnerReport);
    });
    void exited.then(() => setImmediate(() => reject(new Error(`fixture exited before reporting: ${stderr}`))));
  });
  return { proc, report, exited };
}

function expectGone(state: string, report: OwnerReport): void {
  for (const name of [...report.namespaces, ...report.links, report.table]) expect(state).not.toContain(name);
  expect(isPidAlive(report.child)).toBe(false);
  expect(existsSync(`${LOCK_DIR}/${report.subnet.replace('/24', '')}.lock`)).toBe(false);
}

describeNetns('netns harness', () => {
  const defer = useCleanup();

  it('createTopology({ signal }) stops building once aborted, rejects with the reason and leaves nothing behind', async () => {
    const mine = async () => (await listNetnsResources()).filter((r) => r.ownerPid === process.pid).map((r) => r.name);
    const before = await mine();
    const reason = new Error('cancelled');
    await expect(createTopology({ router: true, clientNamespace: true, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    // Aborted while its first commands run: the namespaces it had made are removed before it rejects.
    const controller = new AbortController();
    const building = createTopology({ router: true, clientNamespace: true, signal: controller.signal });
    setImmediate(() => controller.abort(reason));
    await expect(building).rejects.toBe(reason);
    expect((await mine()).filter((n) => !before.includes(n))).toEqual([]);
  });

  it('blackholePort drops both directions, and removing the rule lets the connection recover', async () => {
    const topo = await topology(defer);
    const { port } = await echoServer(topo);
    const watch = await connect(topo.server.address, port);
    defer(() => watch.socket.destroy());
    await echoRoundTrip(watch, 'before');

    watch.mark();
    const rule = await topo.server.nft.blackholePort(port);
    watch.socket.write('during');
    expect(await quietFor([watch], 1_500)).toBeUndefined();
    // New connections are dropped too.
    await expect(connect(topo.server.address, port, 1_000)).rejects.toThrow(/timed out/);

    await rule.remove();
    // The kernel retransmits the unacknowledged write; the echo arrives.
    expect(await watch.readBytes('beforeduring'.length, 5_000)).toBe('beforeduring'.length);
  });

  it('dropSyn drops new connections only; the retried SYN gets through once the rule is gone', async () => {
    const topo = await topology(defer);
    const { port } = await echoServer(topo);
    const established = await connect(topo.server.address, port);
    defer(() => established.socket.destroy());

    const rule = await topo.server.nft.dropSyn(port);
    const pending = new SocketWatch(net.connect({ host: topo.server.address, port }));
    defer(() => pending.socket.destroy());
    expect(await quietFor([pending], 1_500, ['connect', 'error', 'close'])).toBeUndefined();
    await echoRoundTrip(established, 'still flowing', 2_000);

    // Listen before the rule goes: a retransmitted SYN can connect while
    // `nft` is still returning. The kernel retransmits the SYN 1, 3, 7 and
    // 15 s after the first; removed at ≈ 2–4 s, the next one may be ≈ 5 s away.
    const connected = pending.next(['connect', 'error'], 12_000);
    await rule.remove();
    expect((await connected)?.type).toBe('connect');
  });

  it('loss(100, port) drops everything of that port until clear()', async () => {
    const topo = await topology(defer);
    const { port } = await echoServer(topo);
    const watch = await connect(topo.server.address, port);
    defer(() => watch.socket.destroy());
    watch.mark();
    const partial = await topo.server.nft.loss(30);
    expect(await topo.server.nft.list()).toContain('numgen random mod 100 < 30 drop');
    await partial.remove();
    expect(await topo.server.nft.list()).not.toContain('numgen');
    await topo.server.nft.loss(100, port);
    watch.socket.write('x');
    expect(await quietFor([watch], 1_000)).toBeUndefined();
    await topo.server.nft.clear();
    expect(await topo.server.nft.list()).toBe('');
    expect(await watch.readBytes(1, 5_000)).toBe(1);
  });

  it('a frozen (SIGSTOP) server still has its kernel accept connections and ACK data', async () => {
    const topo = await topology(defer);
    const { server, port } = await echoServer(topo);
    server.freeze();
    expect(server.frozen).toBe(true);
    // The handshake completes in the kernel (listen backlog); the process never runs.
    const watch = await connect(topo.server.address, port, 2_000);
    defer(() => watch.socket.destroy());
    watch.socket.write('ping');
    expect(await quietFor([watch], 1_000)).toBeUndefined();
    server.thaw();
    expect(await watch.readBytes(4, 5_000)).toBe(4);
  });

  it('a client namespace reaches the server through the router, with its own sysctls', async () => {
    const topo = await topology(defer, { router: true, clientNamespace: true });
    await topo.client.sysctl('net.ipv4.ip_local_port_range', '41000 41009');
    expect(await topo.client.readSysctl('net.ipv4.ip_local_port_range')).toMatch(/^41000\s+41009$/);
    expect(await topo.router?.readSysctl('net.ipv4.ip_forward')).toBe('1');
    const { port } = await echoServer(topo);
    const client = topo.client.spawnNode(
      `import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
       const s = net.connect(${port}, '${topo.server.address}', () => s.write('hi'));
       s.on('data', (d) => { console.log(JSON.stringify({ echo: String(d), localPort: s.localPort })); s.destroy(); });`,
    );
    const reply = (await client.ready) as { echo: string; localPort: number };
    expect(reply.echo).toBe('hi');
    expect(reply.localPort).toBeGreaterThanOrEqual(41000);
    expect(reply.localPort).toBeLessThanOrEqual(41009);
  });

  it('refuses machine-wide sysctls on the root-namespace client and bad interfaces', async () => {
    const topo = await topology(defer);
    await expect(topo.client.sysctl('net.ipv4.ip_local_port_range', '1 2')).rejects.toMatchObject({ code: 'BW_ERR_UNSUPPORTED' });
    await expect(topo.client.setMtu('eth0', 1400)).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'iface' } });
    await expect(topo.client.sysctl('net/ipv4', 1)).rejects.toMatchObject({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'key' } });
    const own = topo.client.interfaces[0]?.name ?? '';
    await topo.client.sysctl(`net.ipv4.conf.${own}.rp_filter`, 0);
  });

  it('dispose() removes namespaces, veths, nft tables, processes (frozen too) and the subnet lock', async () => {
    const topo = await createTopology({ router: true });
    const { server } = await echoServer(topo);
    server.freeze();
    await topo.client.nft.dropSyn(9);
    const report: OwnerReport = {
      namespaces: [...topo.namespaces],
      links: topo.client.interfaces.map((i) => i.name),
      table: topo.client.nft.table.replace(/^inet /, ''),
      child: server.pid,
      subnet: topo.subnet,
    };
    const before = await rootState();
    for (const name of [...report.namespaces, ...report.links, report.table]) expect(before).toContain(name);
    await Promise.all([topo.dispose(), topo.dispose()]);
    await topo.dispose();
    expect(await server.exited).toBeNull();
    expectGone(await rootState(), report);
  });

  it('process.exit(): the exit handler removes everything synchronously', async () => {
    const { report, exited } = await startOwner(defer, 'exit');
    expect((await exited).code).toBe(3);
    expectGone(await rootState(), report);
  });

  it('spawnNode: {file} with args, exit codes, and a child that exits before printing JSON', async () => {
    const topo = await topology(defer);
    const dir = mkdtempSync(join(tmpdir(), 'bw-spawn-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'child.mjs');
    writeFileSync(file, 'console.log("not json"); console.log(JSON.stringify({ args: process.argv.slice(2) })); process.exitCode = 7;');
    const fromFile = topo.server.spawnNode({ file }, ['a', 'b c']);
    expect(await fromFile.ready).toEqual({ args: ['a', 'b c'] });
    expect(await fromFile.exited).toBe(7);
    expect(fromFile.stdout).toContain('not json');

    const silent = topo.server.spawnNode('console.error("boom"); process.exit(2);');
    await expect(silent.ready).rejects.toThrow(/exited \(code 2\) before printing a JSON line; stderr: boom/);
    const hung = topo.server.spawnNode('setInterval(() => {}, 1000);', [], { readyTimeoutMs: 300 });
    await expect(hung.ready).rejects.toThrow(/no JSON line within 300 ms/);
    expect(await hung.kill('SIGTERM')).toBeNull();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: the owner removes everything, then still dies of the signal`, async () => {
      const { proc, report, exited } = await startOwner(defer);
      proc.kill(signal);
      expect((await exited).signal).toBe(signal);
      expectGone(await rootState(), report);
    });
  }

  it('SIGKILL leaves objects behind; sweepStaleNetns() removes them (and the frozen child)', async () => {
    const { proc, report, exited } = await startOwner(defer);
    proc.kill('SIGKILL');
    expect((await exited).signal).toBe('SIGKILL');
    const left = await rootState();
    for (const name of [...report.namespaces, ...report.links, report.table]) expect(left).toContain(name);

    const removed = await sweepStaleNetns();
    const removedNames = removed.map((r) => r.name);
    for (const name of [...report.namespaces, ...report.links, report.table]) expect(removedNames).toContain(name);
    // Killed from outside; reaped by whoever adopted it.
    for (let i = 0; i < 50 && isPidAlive(report.child); i++) await new Promise((r) => setTimeout(r, 20));
    expectGone(await rootState(), report);
  });
});
