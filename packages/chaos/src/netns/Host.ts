import { BreakwaterError, validateNumber } from '@breakwater/core';
import { type RunOptions, run } from './command.js';
import { createNftRules, type NftRules } from './NftRules.js';
import { type NodeSource, type NsProcess, type SpawnNodeOptions, spawnNodeProcess } from './NsProcess.js';
import type { Role } from './names.js';
import { track, untrack } from './registry.js';

export interface HostInterface {
  /** veth name, ≤ 15 characters. */
  readonly name: string;
  /** This end's address (a /30 from 198.18.0.0/15). */
  readonly address: string;
  /** The role of the host at the other end. */
  readonly peer: Role;
}

/** One host of a topology: a network namespace, or the root namespace for the default client. */
export interface Host {
  readonly role: Role;
  /** The namespace name, or `null` for the root namespace (the test process itself). */
  readonly name: string | null;
  /** The address facing the peer (the router's: facing the client). */
  readonly address: string;
  readonly interfaces: readonly HostInterface[];
  /** Packet-dropping rules in this host (nftables). */
  readonly nft: NftRules;
  /** Runs a command in this host's namespace; resolves with stdout, rejects with stderr. */
  exec(command: string, args?: readonly string[], options?: RunOptions): Promise<string>;
  /**
   * Writes `/proc/sys/<key>` in this namespace, e.g. `sysctl('net.ipv4.ip_local_port_range', '40000 40099')`.
   * The root namespace only accepts per-interface keys of its own veth (use `clientNamespace: true`).
   */
  sysctl(key: string, value: string | number): Promise<void>;
  readSysctl(key: string): Promise<string>;
  /** Sets the MTU of this host's first interface, or of `iface` (one of `interfaces`). */
  setMtu(mtu: number): Promise<void>;
  setMtu(iface: string, mtu: number): Promise<void>;
  /**
   * Runs Node (`process.execPath`) in this namespace. `source` is an ES module
   * (it sees `args` as `process.argv.slice(1)`) or `{ file }` (`process.argv.slice(2)`).
   * The process is killed when the topology is disposed.
   */
  spawnNode(source: NodeSource, args?: readonly string[], options?: SpawnNodeOptions): NsProcess;
}

const SYSCTL_KEY_RE = /^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/;

export interface HostConfig {
  role: Role;
  namespace: string | null;
  interfaces: readonly HostInterface[];
  /** nft table for the root namespace (each topology its own). */
  rootTable: string;
}

export class NetnsHost implements Host {
  readonly role: Role;
  readonly name: string | null;
  readonly address: string;
  readonly interfaces: readonly HostInterface[];
  readonly nft: NftRules;
  readonly #children = new Set<NsProcess>();

  constructor(config: HostConfig) {
    const first = config.interfaces[0];
    if (first === undefined) throw new Error(`host ${config.role} has no interface`);
    this.role = config.role;
    this.name = config.namespace;
    this.address = first.address;
    this.interfaces = Object.freeze([...config.interfaces]);
    const root = config.namespace === null;
    this.nft = createNftRules({
      table: root ? config.rootTable : 'breakwater',
      nft: (args, input) => this.exec('nft', args, input === undefined ? {} : { input }),
      ...(root
        ? {
            scopeInterface: first.name,
            onCreate: () => track('rootTable', config.rootTable),
            onClear: () => untrack('rootTable', config.rootTable),
          }
        : {}),
    });
  }

  exec(command: string, args: readonly string[] = [], options: RunOptions = {}): Promise<string> {
    if (this.name === null) return run(command, args, options);
    return run('ip', ['netns', 'exec', this.name, command, ...args], options);
  }

  /** `ip` in this namespace (`ip -n`, which avoids a second exec). */
  ip(args: readonly string[]): Promise<string> {
    return run('ip', this.name === null ? args : ['-n', this.name, ...args]);
  }

  #sysctlPath(key: string): string {
    if (typeof key !== 'string' || !SYSCTL_KEY_RE.test(key)) {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`key\` to be a sysctl name like "net.ipv4.ip_forward", got ${JSON.stringify(key)}`, {
        details: { key: 'key' },
      });
    }
    return `/proc/sys/${key.replaceAll('.', '/')}`;
  }

  async sysctl(key: string, value: string | number): Promise<void> {
    const path = this.#sysctlPath(key);
    if (this.name === null && !this.interfaces.some((i) => new RegExp(`^net\\.ipv[46]\\.(conf|neigh)\\.${i.name}\\.`).test(key))) {
      throw new BreakwaterError('BW_ERR_UNSUPPORTED', `Refusing to set ${key} in the root namespace: it would change the whole machine`, {
        hint: 'The default client is the test process itself, in the root namespace. Pass `clientNamespace: true` to createTopology() to give the client its own namespace and sysctls.',
        details: { key },
      });
    }
    const text = String(value);
    if (/[\n\0]/.test(text)) {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `value` to be a single line', { details: { key: 'value' } });
    }
    await this.exec('sh', ['-c', 'printf "%s\\n" "$1" > "$2"', 'sh', text, path]);
  }

  async readSysctl(key: string): Promise<string> {
    return (await this.exec('cat', [this.#sysctlPath(key)])).trim();
  }

  setMtu(mtu: number): Promise<void>;
  setMtu(iface: string, mtu: number): Promise<void>;
  async setMtu(ifaceOrMtu: string | number, maybeMtu?: number): Promise<void> {
    const iface = typeof ifaceOrMtu === 'number' ? this.interfaces[0]?.name : ifaceOrMtu;
    const mtu = validateNumber(typeof ifaceOrMtu === 'number' ? ifaceOrMtu : maybeMtu, 'mtu', { min: 68, max: 65_535, integer: true });
    if (iface === undefined || !this.interfaces.some((i) => i.name === iface)) {
      throw new BreakwaterError(
        'BW_ERR_INVALID_OPTION',
        `Expected \`iface\` to be one of ${this.interfaces.map((i) => JSON.stringify(i.name)).join(', ')}, got ${JSON.stringify(iface)}`,
        { details: { key: 'iface' } },
      );
    }
    await this.ip(['link', 'set', 'dev', iface, 'mtu', String(mtu)]);
  }

  spawnNode(source: NodeSource, args: readonly string[] = [], options: SpawnNodeOptions = {}): NsProcess {
    const valid = typeof source === 'string' || (typeof source === 'object' && source !== null && typeof source.file === 'string');
    if (!valid) {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `source` to be module source code or { file }', { details: { key: 'source' } });
    }
    if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', 'Expected `args` to be an array of strings', { details: { key: 'args' } });
    }
    const child = spawnNodeProcess(this.name, source, args, options);
    this.#children.add(child);
    void child.exited.then(() => this.#children.delete(child));
    return child;
  }

  /** Kills every child still running (SIGCONT first for frozen ones). */
  async killChildren(): Promise<void> {
    await Promise.all([...this.#children].map((c) => c.kill()));
  }
}
