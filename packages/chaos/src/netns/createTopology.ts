import { BreakwaterError, publisher } from '@breakwater/core';
import { run } from './command.js';
import { type ResolvedTopologyOptions, resolveTopologyOptions, type TopologyOptions } from './defaults.js';
import { type Host, type HostInterface, NetnsHost } from './Host.js';
import { type Role, type TopologyNames, topologyNames } from './names.js';
import { killHard, track, untrack } from './registry.js';
import { type LinkAddresses, SubnetAllocator, type SubnetLease, subnetsInUse } from './SubnetAllocator.js';
import { netnsSupport } from './support.js';

/** Hosts joined by veth pairs; remove everything with `dispose()` (or `await using`). */
export interface Topology {
  readonly client: Host;
  readonly server: Host;
  /** Present with `router: true`. */
  readonly router?: Host;
  /** The /24 of 198.18.0.0/15 this topology owns, e.g. `198.18.7.0/24`. */
  readonly subnet: string;
  /** Namespace names this topology created (the root-namespace client has none). */
  readonly namespaces: readonly string[];
  /** Kills child processes, deletes rules, veths and namespaces. Idempotent. */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const publish = publisher('chaos');
let topologyCount = 0;
let allocator: SubnetAllocator | undefined;

/** What has been created so far, so a failure half-way removes exactly that. */
interface Built {
  names: TopologyNames;
  lease: SubnetLease;
  namespaces: string[];
  rootLinks: string[];
  hosts: NetnsHost[];
  /** Checked between build steps (`TopologyOptions.signal`). */
  signal: AbortSignal | undefined;
}

/**
 * Builds a client and a server (and optionally a router between them) out of
 * network namespaces and veth pairs with addresses from 198.18.0.0/15, for
 * reproducing kernel-level network failures with real TCP stacks.
 * Needs root on Linux (`netnsSupport()` tells); throws BW_ERR_UNSUPPORTED otherwise.
 *
 * @example
 * const topology = await createTopology();
 * try {
 *   const server = topology.server.spawnNode(`…listen…; console.log(JSON.stringify({ port }))`);
 *   const { port } = (await server.ready) as { port: number };
 *   const socket = net.connect(port, topology.server.address);
 *   await topology.server.nft.blackholePort(port);
 * } finally {
 *   await topology.dispose();
 * }
 */
export async function createTopology(options?: TopologyOptions): Promise<Topology> {
  const resolved = resolveTopologyOptions(options);
  const signal = options?.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`signal\` to be an AbortSignal, got ${typeof signal}`, { details: { key: 'signal' } });
  }
  signal?.throwIfAborted();
  const support = netnsSupport();
  if (!support.available) {
    throw new BreakwaterError('BW_ERR_UNSUPPORTED', `createTopology() cannot run here: ${support.reason}`, {
      hint: 'The netns harness needs root on Linux with iproute2 (`ip`) and nftables (`nft`); CI runs it as root. Elsewhere, skip the test (see netnsSupport()).',
      details: { reason: support.reason },
    });
  }
  const inUse = subnetsInUse((await run('ip', ['-4', '-o', 'addr', 'show'])) + (await run('ip', ['-4', 'route', 'show', 'table', 'all'])));
  allocator ??= new SubnetAllocator();
  const lease = allocator.acquire(inUse);
  track('lease', lease);
  // Names are unique per process through the counter; under worker threads
  // several counters share one pid, so a taken name moves on to the next index.
  for (let attempt = 1; ; attempt++) {
    const built: Built = { names: topologyNames(process.pid, topologyCount++), lease, namespaces: [], rootLinks: [], hosts: [], signal };
    try {
      const topology = await build(built, resolved);
      publish('topologyCreated', { subnet: lease.cidr, namespaces: built.namespaces, router: resolved.router, clientNamespace: resolved.clientNamespace });
      return topology;
    } catch (error) {
      const retry = error instanceof NameTaken && attempt < MAX_NAME_ATTEMPTS;
      await teardown(built, { releaseLease: !retry }).catch(() => {});
      if (!retry) throw error;
    }
  }
}

const MAX_NAME_ATTEMPTS = 8;

class NameTaken extends Error {}

function ip(namespace: string | null, args: readonly string[]): Promise<string> {
  return run('ip', namespace === null ? args : ['-n', namespace, ...args]);
}

async function addNamespace(built: Built, name: string): Promise<void> {
  built.signal?.throwIfAborted();
  // Parallel first uses of /run/netns race on its mount: retry a little.
  for (let attempt = 1; ; attempt++) {
    try {
      await run('ip', ['netns', 'add', name]);
      break;
    } catch (error) {
      if (error instanceof BreakwaterError && String(error.details.stderr).includes('File exists')) throw new NameTaken(name);
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
  built.namespaces.push(name);
  track('namespace', name);
  await ip(name, ['link', 'set', 'dev', 'lo', 'up']);
}

async function build(built: Built, o: ResolvedTopologyOptions): Promise<Topology> {
  const { names, lease } = built;
  const roles: Role[] = o.router ? ['client', 'router', 'server'] : ['client', 'server'];
  const nsOf = (role: Role): string | null => (role === 'client' && !o.clientNamespace ? null : names.namespace(role));
  for (const role of roles) {
    const ns = nsOf(role);
    if (ns !== null) await addNamespace(built, ns);
  }

  const interfaces = new Map<Role, HostInterface[]>(roles.map((r) => [r, []]));
  const hops: [Role, Role, LinkAddresses][] = o.router
    ? [
        ['client', 'router', lease.first],
        ['router', 'server', lease.second],
      ]
    : [['client', 'server', lease.first]];
  for (const [near, far, addresses] of hops) {
    built.signal?.throwIfAborted();
    const nearIf = names.link(near, far);
    const farIf = names.link(far, near);
    const nearNs = nsOf(near);
    const farNs = nsOf(far) ?? '';
    // Created in the near namespace with the far end moved straight into its
    // own: no name ever appears in the root namespace unless it lives there.
    await ip(nearNs, ['link', 'add', nearIf, 'type', 'veth', 'peer', 'name', farIf, 'netns', farNs]);
    if (nearNs === null) {
      built.rootLinks.push(nearIf);
      track('rootLink', nearIf);
    }
    for (const [ns, ifName, address] of [
      [nearNs, nearIf, addresses.near],
      [farNs, farIf, addresses.far],
    ] as const) {
      await ip(ns, ['addr', 'add', `${address}/30`, 'dev', ifName]);
      await ip(ns, ['link', 'set', 'dev', ifName, 'up']);
    }
    interfaces.get(near)?.push({ name: nearIf, address: addresses.near, peer: far });
    interfaces.get(far)?.push({ name: farIf, address: addresses.far, peer: near });
  }

  built.signal?.throwIfAborted();
  const hosts = new Map<Role, NetnsHost>();
  for (const role of roles) {
    const host = new NetnsHost({ role, namespace: nsOf(role), interfaces: interfaces.get(role) ?? [], rootTable: names.rootTable });
    hosts.set(role, host);
    built.hosts.push(host);
  }
  const client = hosts.get('client');
  const server = hosts.get('server');
  const router = hosts.get('router');
  if (client === undefined || server === undefined) throw new Error('topology without client or server');

  if (router !== undefined) {
    await router.sysctl('net.ipv4.ip_forward', 1);
    if (o.mtu.clientRouter !== 1500) await router.setMtu(names.link('router', 'client'), o.mtu.clientRouter);
    if (o.mtu.routerServer !== 1500) await router.setMtu(names.link('router', 'server'), o.mtu.routerServer);
    const clientNs = nsOf('client');
    // The root namespace gets one route, to this topology's server /30 only.
    await ip(clientNs, clientNs === null ? ['route', 'add', lease.second.cidr, 'via', lease.first.far] : ['route', 'add', 'default', 'via', lease.first.far]);
    await ip(nsOf('server'), ['route', 'add', 'default', 'via', lease.second.near]);
  }

  let disposing: Promise<void> | undefined;
  const dispose = (): Promise<void> => {
    disposing ??= teardown(built).then(() => publish('topologyDisposed', { subnet: lease.cidr }));
    return disposing;
  };
  return Object.freeze({
    client,
    server,
    ...(router === undefined ? {} : { router }),
    subnet: lease.cidr,
    namespaces: Object.freeze([...built.namespaces]),
    dispose,
    [Symbol.asyncDispose]: dispose,
  });
}

/**
 * Removes what `built` lists, in dependency order; keeps going after a
 * failure and throws the first error at the end so a leak fails the test.
 */
async function teardown(built: Built, { releaseLease = true } = {}): Promise<void> {
  const errors: unknown[] = [];
  const attempt = async (step: () => Promise<unknown>) => {
    try {
      await step();
    } catch (error) {
      errors.push(error);
    }
  };
  await Promise.all(built.hosts.map((h) => attempt(() => h.killChildren())));
  for (const host of built.hosts) if (host.name === null) await attempt(() => host.nft.clear());
  for (const link of built.rootLinks.splice(0)) {
    await attempt(async () => {
      const present = (await run('ip', ['-o', 'link', 'show'])).includes(` ${link}@`);
      if (present) await run('ip', ['link', 'delete', link]);
      untrack('rootLink', link);
    });
  }
  for (const name of built.namespaces.splice(0)) {
    await attempt(async () => {
      // Anything still inside (a command started with exec()) keeps the namespace alive.
      const pids = await run('ip', ['netns', 'pids', name]).catch(() => '');
      for (const pid of pids.split(/\s+/).filter(Boolean)) killHard(Number(pid));
      await run('ip', ['netns', 'delete', name]);
      untrack('namespace', name);
    });
  }
  if (releaseLease) {
    built.lease.release();
    untrack('lease', built.lease);
  }
  if (errors.length > 0) throw errors[0];
}
