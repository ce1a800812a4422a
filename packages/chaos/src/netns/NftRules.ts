import { validateNumber } from '@breakwater/core';

/**
 * Packet-dropping rules in one host, as an nftables table. In a namespace
 * the table is `inet breakwater` and sees all of that host's traffic; in the
 * root namespace (a client that is the test process itself) the table gets
 * a per-topology name and every rule is limited to the topology's veth, so
 * a test never touches the machine's other traffic.
 */

export type Chain = 'input' | 'output' | 'forward';

/** One batch of rules, removable as a unit. */
export interface NftRule {
  /** Deletes the rules. A no-op after `clear()` or a second call. */
  remove(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface NftRules {
  /** `inet breakwater` in a namespace, `inet bw_<pid>_<n>` in the root namespace. */
  readonly table: string;
  /** Drops every TCP packet to or from `port`, both directions: a peer that vanished without FIN or RST. */
  blackholePort(port: number): Promise<NftRule>;
  /** Drops inbound SYNs (SYN without ACK) to `port`: a firewall or full conntrack table dropping new connections. */
  dropSyn(port: number): Promise<NftRule>;
  /**
   * Drops `percent` % of the packets this host receives or forwards
   * (`numgen random mod 100 < percent`), of TCP `port` (either direction) when given.
   */
  loss(percent: number, port?: number): Promise<NftRule>;
  /**
   * Drops ICMP destination-unreachable (fragmentation-needed included) and
   * ICMPv6 packet-too-big that this host generates or forwards: on a router
   * in front of a smaller-MTU hop this makes a PMTU black hole.
   */
  dropIcmpUnreachable(): Promise<NftRule>;
  /** Escape hatch: raw nft rule expressions, e.g. `{ chain: 'input', expression: 'udp dport 53 drop' }`. */
  add(rules: readonly { chain: Chain; expression: string }[]): Promise<NftRule>;
  /** Removes every rule (and the table). */
  clear(): Promise<void>;
  /** `nft list table …`, for debugging; empty when no rule was added. */
  list(): Promise<string>;
}

export interface NftRulesConfig {
  table: string;
  /** Runs `nft <args>` in the host's namespace with `input` on stdin. */
  nft(args: readonly string[], input?: string): Promise<string>;
  /** Root namespace: limit every rule to this interface, and have no forward chain. */
  scopeInterface?: string;
  /** Called before the table is first created (the root table must be tracked for cleanup). */
  onCreate?(): void;
  /** Called after `clear()` removed the table. */
  onClear?(): void;
}

const PRIORITY = -10;

export function createNftRules(config: NftRulesConfig): NftRules {
  const { table, nft, scopeInterface } = config;
  const chains: readonly Chain[] = scopeInterface === undefined ? ['input', 'output', 'forward'] : ['input', 'output'];
  let generation = 0;
  let created = false;

  function scoped(chain: Chain, expression: string): string {
    if (scopeInterface === undefined) return expression;
    return `${chain === 'output' ? 'oifname' : 'iifname'} "${scopeInterface}" ${expression}`;
  }

  async function add(rules: readonly { chain: Chain; expression: string }[]): Promise<NftRule> {
    const wanted = rules.filter((r) => chains.includes(r.chain));
    if (!created) {
      created = true;
      config.onCreate?.();
    }
    const script = [
      `add table inet ${table}`,
      ...chains.map((c) => `add chain inet ${table} ${c} { type filter hook ${c} priority ${PRIORITY}; policy accept; }`),
      ...wanted.map((r) => `add rule inet ${table} ${r.chain} ${scoped(r.chain, r.expression)}`),
    ].join('\n');
    const echoed = await nft(['--echo', '--handle', '-f', '-'], `${script}\n`);
    const handles: { chain: string; handle: string }[] = [];
    for (const line of echoed.split('\n')) {
      const match = /^add rule inet \S+ (\S+) .*# handle (\d+)$/.exec(line.trim());
      if (match?.[1] !== undefined && match[2] !== undefined) handles.push({ chain: match[1], handle: match[2] });
    }
    if (handles.length !== wanted.length) throw new Error(`nft echoed ${handles.length} rule handles for ${wanted.length} rules:\n${echoed}`);
    const born = generation;
    let removed = false;
    const remove = async (): Promise<void> => {
      if (removed || born !== generation) return;
      removed = true;
      if (handles.length === 0) return;
      await nft(['-f', '-'], `${handles.map((h) => `delete rule inet ${table} ${h.chain} handle ${h.handle}`).join('\n')}\n`);
    };
    return { remove, [Symbol.asyncDispose]: remove };
  }

  function onPort(port: number, key = 'port'): number {
    return validateNumber(port, key, { min: 1, max: 65_535, integer: true });
  }

  return {
    table: `inet ${table}`,
    add,
    blackholePort(port) {
      const p = onPort(port);
      return add(chains.flatMap((chain) => [`tcp dport ${p} drop`, `tcp sport ${p} drop`].map((expression) => ({ chain, expression }))));
    },
    dropSyn(port) {
      const p = onPort(port);
      const expression = `tcp dport ${p} tcp flags & (syn | ack) == syn drop`;
      return add([
        { chain: 'input', expression },
        { chain: 'forward', expression },
      ]);
    },
    loss(percent, port) {
      const n = validateNumber(percent, 'percent', { min: 0, max: 100, integer: true });
      const match = port === undefined ? [''] : [`tcp dport ${onPort(port)} `, `tcp sport ${onPort(port)} `];
      // nft compares against 0-99 only: 100 % is a plain drop, 0 % no rule at all.
      const verdict = n === 100 ? 'drop' : `numgen random mod 100 < ${n} drop`;
      if (n === 0) return add([]);
      return add((['input', 'forward'] as const).flatMap((chain) => match.map((m) => ({ chain, expression: `${m}${verdict}` }))));
    },
    dropIcmpUnreachable() {
      return add(
        (['output', 'forward'] as const).flatMap((chain) => [
          { chain, expression: 'icmp type destination-unreachable drop' },
          { chain, expression: 'icmpv6 type packet-too-big drop' },
        ]),
      );
    },
    async clear() {
      generation++;
      if (!created) return;
      // `add` first so `delete` cannot fail on a missing table.
      await nft(['-f', '-'], `add table inet ${table}\ndelete table inet ${table}\n`);
      created = false;
      config.onClear?.();
    },
    async list() {
      if (!created) return '';
      return nft(['list', 'table', 'inet', table]);
    },
  };
}
