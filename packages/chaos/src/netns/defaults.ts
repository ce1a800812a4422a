import { BreakwaterError, validateBoolean, validateNumber, validateOptionsObject } from '@breakwater/core';

/**
 * MTU of a hop, set on the router's end of the hop only. The endpoints keep
 * 1500 and advertise a full-size MSS, so their own packets do not avoid the
 * small hop: the router must fragment-or-complain, which is what a PMTU
 * black hole needs (FM-06).
 */
export interface HopMtuOptions {
  /**
   * MTU of the router's client-facing veth end (bytes): limits packets the
   * router forwards towards the client (server responses).
   * @defaultValue 1500
   * @example { clientRouter: 1400 }
   */
  clientRouter?: number;
  /**
   * MTU of the router's server-facing veth end (bytes): limits packets the
   * router forwards towards the server (client uploads).
   * @defaultValue 1500
   */
  routerServer?: number;
}

export interface TopologyOptions {
  /**
   * Put a router namespace between client and server (client — router —
   * server), with IPv4 forwarding on and routes set.
   * @defaultValue false
   * @example createTopology({ router: true, mtu: { clientRouter: 1400 } })
   */
  router?: boolean;
  /**
   * Give the client its own namespace. By default the client is the root
   * namespace, i.e. the test process itself, so test code can
   * `net.connect(topology.server.address, port)` directly. A client namespace
   * is needed for per-namespace sysctls (`ip_local_port_range`…); code then
   * runs there through `client.spawnNode()`.
   * @defaultValue false
   */
  clientNamespace?: boolean;
  /** MTU of each hop; needs `router: true`. */
  mtu?: HopMtuOptions;
  /**
   * Stops the build between two commands once aborted: what was built so far
   * is removed and `createTopology()` rejects with the signal's reason, instead
   * of finishing a topology nobody will use.
   */
  signal?: AbortSignal;
}

export interface ResolvedTopologyOptions {
  router: boolean;
  clientNamespace: boolean;
  mtu: Required<HopMtuOptions>;
}

/** veth default: the Ethernet MTU. */
export const DEFAULT_MTU = 1500;

export const TOPOLOGY_DEFAULTS = Object.freeze({
  router: false,
  clientNamespace: false,
  mtu: Object.freeze({ clientRouter: DEFAULT_MTU, routerServer: DEFAULT_MTU }),
}) satisfies Readonly<ResolvedTopologyOptions>;

const MTU_RULE = { min: 68, max: 65_535, integer: true } as const;

/** Validates `createTopology()` options; errors are BW_ERR_INVALID_OPTION naming the key. */
export function resolveTopologyOptions(options?: TopologyOptions): ResolvedTopologyOptions {
  const given = validateOptionsObject<TopologyOptions>(options, 'createTopology() options', ['router', 'clientNamespace', 'mtu', 'signal']);
  const router = given.router === undefined ? TOPOLOGY_DEFAULTS.router : validateBoolean(given.router, 'router');
  const clientNamespace = given.clientNamespace === undefined ? TOPOLOGY_DEFAULTS.clientNamespace : validateBoolean(given.clientNamespace, 'clientNamespace');
  const mtuGiven = validateOptionsObject<HopMtuOptions>(given.mtu, 'mtu', ['clientRouter', 'routerServer']);
  if (given.mtu !== undefined && !router) {
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      'Option `mtu` needs `router: true`: a hop MTU is set on the router, where packets meet the smaller hop',
      {
        details: { key: 'mtu' },
      },
    );
  }
  const mtu = {
    clientRouter: mtuGiven.clientRouter === undefined ? DEFAULT_MTU : validateNumber(mtuGiven.clientRouter, 'mtu.clientRouter', MTU_RULE),
    routerServer: mtuGiven.routerServer === undefined ? DEFAULT_MTU : validateNumber(mtuGiven.routerServer, 'mtu.routerServer', MTU_RULE),
  };
  return { router, clientNamespace, mtu };
}
