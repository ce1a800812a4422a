/**
 * A process that owns a topology and then waits to be killed, for the
 * harness's signal and sweeper tests. Run it with
 * `node --import ./test/support/ts-hooks.ts test/support/netns-owner.fixture.ts`.
 * It builds a router topology with a root-namespace client (so it owns a
 * root veth end and, after dropSyn on the client, a root nft table), starts a
 * child in the server namespace and freezes it, then prints what it owns.
 * With the argument `exit` it then calls `process.exit(3)` instead of waiting.
 */
import { createTopology } from '../../packages/chaos/src/netns/index.js';

const topology = await createTopology({ router: true });
const child = topology.server.spawnNode(`console.log('{}'); setInterval(() => {}, 1000);`);
await child.ready;
child.freeze();
await topology.client.nft.dropSyn(9);
console.log(
  JSON.stringify({
    namespaces: topology.namespaces,
    links: topology.client.interfaces.map((i) => i.name),
    table: topology.client.nft.table.replace(/^inet /, ''),
    child: child.pid,
    subnet: topology.subnet,
  }),
);
if (process.argv[2] === 'exit') process.exit(3);
setInterval(() => {}, 1000);
