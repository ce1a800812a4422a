import { createServer, type Server, type Socket } from 'node:net';
import { BreakwaterError, type Clock, classify, publisher } from '@breakwater/core';
import { Rng } from '../internal/rng.js';
import { type FaultProxyOptions, type ResolvedFaultProxyOptions, resolveFaultProxyOptions } from './defaults.js';
import { FAULT_TYPES, type FaultSpec, type FaultType, type ResolvedFault } from './faults.js';
import { type Flow, ProxyConnection } from './ProxyConnection.js';
import { resolveFault, specOf } from './validateFault.js';

const publish = publisher('chaos');

export interface FaultProxyStats {
  /** Connections accepted since the proxy started. */
  accepted: number;
  /** Client connections open now. */
  active: number;
  /** Bytes written to the server (client → server). */
  bytesUpstream: number;
  /** Bytes written to the clients (server → client). */
  bytesDownstream: number;
  /** Per fault type: how many (connection, fault) pairs it acted on. */
  faultsApplied: Record<FaultType, number>;
}

/** A fault as listed by {@link FaultProxy.faults}: its id and its spec with defaults filled in. */
export type ActiveFault = FaultSpec & { readonly id: string };

/**
 * A user-space TCP proxy that injects faults between a client and a server:
 * latency, throttling, slicing, blackholes, resets, half-closes, slow closes,
 * data limits and the load-balancer idle reset. Faults can be added and
 * removed while connections are open. Every random decision comes from
 * `seed`, so a failing run can be replayed.
 *
 * It runs in user space, so its own kernel keeps ACKing: for faults below TCP
 * (packet loss, silent peers that stop ACKing, PMTU black holes) use the
 * netns harness instead.
 *
 * Create one with {@link createFaultProxy}.
 */
export class FaultProxy implements AsyncDisposable {
  /** Address the proxy listens on; point the client here. */
  readonly host: string;
  readonly port: number;
  /** Seed of every random decision; pass it back as `seed` to replay a run. */
  readonly seed: number;
  readonly #server: Server;
  readonly #options: ResolvedFaultProxyOptions;
  readonly #clock: Clock;
  readonly #rng: Rng;
  readonly #faults = new Map<string, ResolvedFault>();
  readonly #connections = new Set<ProxyConnection>();
  readonly #stats: FaultProxyStats;
  #nextFaultId = 1;
  #nextConnectionId = 1;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link createFaultProxy}. */
  constructor(server: Server, options: ResolvedFaultProxyOptions) {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new BreakwaterError('BW_ERR_INTERNAL', 'the fault proxy server is not listening on TCP');
    this.#server = server;
    this.#options = options;
    this.#clock = options.clock;
    this.host = address.address;
    this.port = address.port;
    this.seed = options.seed;
    this.#rng = new Rng(options.seed);
    this.#stats = { accepted: 0, active: 0, bytesUpstream: 0, bytesDownstream: 0, faultsApplied: zeroCounts() };
    server.on('connection', (socket: Socket) => this.#accept(socket));
    // accept() can fail (EMFILE); the server keeps listening, so report it and go on.
    server.on('error', (error: Error) => publish('proxyFailed', { proxy: this, error }));
    for (const fault of resolveFaults(options.faults, () => this.#newFaultId())) this.#install(fault);
  }

  /** Client connections open now. */
  get connections(): number {
    return this.#connections.size;
  }

  /** The faults in force, in the order they were added. */
  get faults(): readonly ActiveFault[] {
    return [...this.#faults.values()].map((f) => Object.freeze({ ...specOf(f), id: f.id }));
  }

  /**
   * Adds a fault; it applies to new connections and, where it means
   * something, to open ones (a reset without `afterMs` resets them now).
   * Returns its id, for {@link removeFault}.
   *
   * @throws BreakwaterError `BW_ERR_INVALID_OPTION` for a bad spec, `BW_ERR_CLOSED` after close().
   */
  addFault(spec: FaultSpec): string {
    this.#assertOpen('addFault');
    const fault = resolveFault(spec, this.#newFaultId());
    this.#install(fault);
    return fault.id;
  }

  /** Removes a fault; data it already delayed keeps its schedule. Returns false for an unknown id. */
  removeFault(id: string): boolean {
    const fault = this.#faults.get(id);
    if (fault === undefined) return false;
    this.#faults.delete(id);
    for (const connection of this.#connections) connection.detach(id);
    publish('faultRemoved', { proxy: this, faultId: id, type: fault.type });
    return true;
  }

  /** Replaces every fault. All specs are validated before anything changes. */
  setFaults(specs: readonly FaultSpec[]): string[] {
    this.#assertOpen('setFaults');
    const faults = resolveFaults(specs, () => this.#newFaultId());
    this.clearFaults();
    for (const fault of faults) this.#install(fault);
    return faults.map((f) => f.id);
  }

  clearFaults(): void {
    for (const id of [...this.#faults.keys()]) this.removeFault(id);
  }

  stats(): FaultProxyStats {
    return { ...this.#stats, active: this.#connections.size, faultsApplied: { ...this.#stats.faultsApplied } };
  }

  /**
   * Stops listening, closes every connection (both sockets) and clears every
   * timer, including data still waiting for a delay. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      const serverClosed = new Promise<void>((done) => this.#server.close(() => done()));
      const connectionsClosed = [...this.#connections].map((c) => {
        c.destroy();
        return c.closed;
      });
      void Promise.all([serverClosed, ...connectionsClosed]).then(() => resolve());
    });
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #install(fault: ResolvedFault): void {
    this.#faults.set(fault.id, fault);
    publish('faultAdded', { proxy: this, faultId: fault.id, type: fault.type });
    for (const connection of this.#connections) connection.attach(fault);
  }

  #newFaultId(): string {
    return `fault-${this.#nextFaultId++}`;
  }

  #assertOpen(method: string): void {
    if (this.#closing !== undefined) {
      throw new BreakwaterError('BW_ERR_CLOSED', `${method}() called on a fault proxy that was closed`, { details: { host: this.host, port: this.port } });
    }
  }

  #accept(client: Socket): void {
    if (this.#closing !== undefined) {
      client.destroy();
      return;
    }
    const id = this.#nextConnectionId++;
    this.#stats.accepted++;
    const openedAt = this.#clock.now();
    publish('connectionOpened', { proxy: this, connectionId: id, remoteAddress: client.remoteAddress, remotePort: client.remotePort });
    const connection = new ProxyConnection(client, {
      id,
      clock: this.#clock,
      rng: this.#rng.fork(),
      target: this.#options.target,
      maxBufferedBytes: this.#options.maxBufferedBytes,
      faults: this.#faults.values(),
      onApplied: (conn, fault) => {
        this.#stats.faultsApplied[fault.type]++;
        publish('faultApplied', { proxy: this, connectionId: conn.id, faultId: fault.id, type: fault.type });
      },
      onWritten: (flow: Flow, bytes) => {
        if (flow === 'upstream') this.#stats.bytesUpstream += bytes;
        else this.#stats.bytesDownstream += bytes;
      },
      onClosed: (conn, reason) => {
        this.#connections.delete(conn);
        publish('connectionClosed', { proxy: this, connectionId: conn.id, reason, durationMs: this.#clock.now() - openedAt });
      },
    });
    this.#connections.add(connection);
  }
}

function zeroCounts(): Record<FaultType, number> {
  return Object.fromEntries(FAULT_TYPES.map((t) => [t, 0])) as Record<FaultType, number>;
}

function resolveFaults(specs: unknown, newId: () => string): ResolvedFault[] {
  if (!Array.isArray(specs)) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `faults` to be an array of fault specs', { details: { key: 'faults' } });
  }
  // Validate all before taking ids, so a bad list neither half-applies nor burns ids.
  const faults = specs.map((spec, i) => resolveFault(spec, '', `faults[${i}].`));
  return faults.map((fault) => ({ ...fault, id: newId() }));
}

/**
 * Starts a fault proxy in front of `target` and resolves once it listens.
 *
 * @example
 * await using proxy = await createFaultProxy({ target: { host: '127.0.0.1', port: 5432 }, seed: 42 });
 * const slow = proxy.addFault({ type: 'latency', latencyMs: 200, direction: 'downstream' });
 * // …point the client at proxy.host:proxy.port, run the scenario…
 * proxy.removeFault(slow);
 *
 * @throws BreakwaterError `BW_ERR_INVALID_OPTION` for bad options or fault specs (message names the key);
 *   a classified error when the listen address is taken.
 */
export async function createFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const resolved = resolveFaultProxyOptions(options);
  // Validate the faults before a port is taken.
  resolveFaults(resolved.faults, () => '');
  // pauseOnConnect: the client's bytes wait in its socket until the upstream is connected.
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(classify(err, { host: resolved.listen.host, port: resolved.listen.port, phase: 'connect' }));
    server.once('error', onError);
    server.listen({ host: resolved.listen.host, port: resolved.listen.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return new FaultProxy(server, resolved);
}
