import type { LookupAddress, LookupOptions } from 'node:dns';
import net from 'node:net';
import type { ResolvedAddress, Resolver } from '../Resolver.js';

/** `net.connect()`'s `lookup` option. */
export type LookupFunction = net.LookupFunction;
type LookupCallback = Parameters<LookupFunction>[2];

/** Picks the address one new connection goes to, among a name's addresses (never empty). */
export type ChooseAddress = (hostname: string, port: string, addresses: readonly ResolvedAddress[]) => ResolvedAddress;

/**
 * How the dns/balance layers ask the connect step to resolve a name (set on dispatch options under
 * kResolution): Breakwater's Resolver for the answer, `choose` for the address of each new connection.
 */
export interface Resolution {
  readonly resolver: Resolver;
  readonly choose: ChooseAddress;
}

/** The family net needs for `address`: from the address itself, never from a resolver's label (EINVAL). */
function familyOf(address: string): 4 | 6 {
  return net.isIP(address) === 6 ? 6 : 4;
}

function answer(options: LookupOptions, callback: LookupCallback, a: { address: string; family: number }): void {
  // With autoSelectFamily (Node's default) net asks for `all`: one address, so no other one is raced.
  if (options.all === true) callback(null, [{ address: a.address, family: a.family } satisfies LookupAddress]);
  else callback(null, a.address, a.family);
}

/**
 * A `lookup` for `net.connect()` that resolves through the Resolver (TTL caps, negative cache, serve-stale)
 * and connects to the address `choose` picks. The socket still connects to the *name*: msw, proxies,
 * `Host` and TLS SNI all see it. When net asks for `all` (autoSelectFamily), the other addresses follow the
 * chosen one, as Node's dns.lookup gives them: a refused or silent address falls back to the next (happy
 * eyeballs) instead of failing the connection. A failed lookup fails the connect with the Resolver's
 * BreakwaterError.
 */
export function resolverLookup(r: Resolution, port: string): LookupFunction {
  return (hostname, options, callback) => {
    r.resolver.lookup(hostname).then(
      (addresses) => {
        let chosen: ResolvedAddress;
        try {
          chosen = r.choose(hostname, port, addresses);
        } catch (err) {
          callback(err as NodeJS.ErrnoException, '', 4);
          return;
        }
        if (options.all !== true) return callback(null, chosen.address, familyOf(chosen.address));
        const family = options.family === 4 || options.family === 6 ? options.family : undefined;
        const rest = addresses.filter((a) => a.address !== chosen.address && (family === undefined || familyOf(a.address) === family));
        callback(
          null,
          [chosen, ...rest].map((a) => ({ address: a.address, family: familyOf(a.address) }) satisfies LookupAddress),
        );
      },
      (err: NodeJS.ErrnoException) => callback(err, '', 4),
    );
  };
}

/** A `lookup` that always answers `address`: the connections of a pool pinned to one address of a name. */
export function pinnedLookup(address: string): LookupFunction {
  const a = { address, family: familyOf(address) };
  return (_hostname, options, callback) => answer(options, callback, a);
}
