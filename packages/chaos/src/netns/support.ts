import { execFileSync } from 'node:child_process';
import { SYNC_COMMAND_TIMEOUT_MS } from './command.js';
import { probeNamespaceName } from './names.js';
import { deleteNamespaceSync, track, untrack } from './registry.js';

export interface NetnsSupport {
  /** True when `createTopology()` can work here. */
  available: boolean;
  /** Why not, in one sentence, when `available` is false. */
  reason?: string;
}

let cached: NetnsSupport | undefined;
let probes = 0;

function attempt(file: string, args: readonly string[]): string | undefined {
  try {
    execFileSync(file, args, { timeout: SYNC_COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL', stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    return undefined;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') return `\`${file}\` is not installed`;
    return `\`${file} ${args.join(' ')}\` failed: ${(e.stderr ?? '').trim() || e.message}`;
  }
}

/** Makes a namespace, puts an nft table and a veth pair in it, deletes it. */
function probe(): string | undefined {
  const name = probeNamespaceName(process.pid, probes++);
  // Parallel `ip netns add` calls race on the first mount of /run/netns; retry a little.
  let failure: string | undefined;
  for (let i = 0; i < 3; i++) {
    failure = attempt('ip', ['netns', 'add', name]);
    if (failure === undefined) break;
  }
  if (failure !== undefined) return failure;
  track('namespace', name);
  try {
    return (
      attempt('ip', ['netns', 'exec', name, 'nft', 'add', 'table', 'inet', 'breakwater']) ??
      attempt('ip', ['-n', name, 'link', 'add', `bw${process.pid}-pa`, 'type', 'veth', 'peer', 'name', `bw${process.pid}-pb`])
    );
  } finally {
    deleteNamespaceSync(name);
    untrack('namespace', name);
  }
}

/**
 * Whether the kernel-level harness can run here: Linux, root, `ip`
 * (iproute2) and `nft` (nftables) installed, and a probe namespace with an
 * nft table and a veth pair can really be created (containers without
 * CAP_NET_ADMIN, or kernels without nf_tables/veth, fail this step).
 * The answer is cached for the life of the process.
 *
 * @example
 * const { available, reason } = netnsSupport();
 * if (!available) console.log(`skipping kernel fault tests: ${reason}`);
 */
export function netnsSupport(): NetnsSupport {
  if (cached !== undefined) return { ...cached };
  cached = check();
  return { ...cached };
}

function check(): NetnsSupport {
  if (process.platform !== 'linux') return { available: false, reason: `network namespaces need Linux, this is ${process.platform}` };
  const uid = process.getuid?.();
  if (uid !== 0) return { available: false, reason: `network namespaces and nftables need root, running as uid ${uid}` };
  const missing = attempt('ip', ['-V']) ?? attempt('nft', ['--version']);
  if (missing !== undefined) return { available: false, reason: missing };
  const failed = probe();
  if (failed !== undefined) return { available: false, reason: `cannot create a probe namespace: ${failed}` };
  return { available: true };
}
