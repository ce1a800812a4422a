import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Scenario, ScenarioContext } from '../types.js';
import { notApplied } from './config-support.js';

/**
 * FM-18, host tuning footguns. The doctor runs against a fixture /proc tree
 * (written to a temp dir) holding every footgun of the catalogue's seed
 * list, and against a clean tree as the control: N of N found, each with its
 * fix, and nothing on the clean host (the healthy twin: a doctor that
 * flags sound settings would be noise to switch off). The naive side is a host without a
 * check: neither Node nor the kernel says anything about a sysctl, so the
 * same N footguns go unreported (0 of N) until a fault turns one into an
 * outage.
 */

/**
 * The host-level footguns of `seeds/001_…txt`, by the doctor finding that
 * covers each. Its Nagle / TCP_NODELAY / SO_REUSEADDR items are per-socket
 * options, not host settings: @breakwater/socket sets them on every socket.
 */
export const SEED_FOOTGUNS: Readonly<Record<string, string>> = Object.freeze({
  'TIME_WAIT "fixed" by lowering tcp_fin_timeout': 'tcp-fin-timeout',
  'TIME_WAIT exhausting the ports to one destination': 'time-wait-per-destination',
  'port range too narrow for the connection rate': 'ip-local-port-range',
  'tcp_tw_reuse off': 'tcp-tw-reuse',
  'tcp_tw_recycle set (drops clients behind NAT)': 'tcp-tw-recycle',
  'tcp_tw_recycle left in old sysctl files': 'tcp-tw-recycle-config',
  'socket buffers below the bandwidth-delay product': 'socket-buffers',
  'keepalive defaults (2 h 11 min to notice a dead peer)': 'keepalive-sysctls',
  'PMTU black hole with probing off': 'tcp-mtu-probing',
  'conntrack table nearly full': 'conntrack-usage',
  'BBR without the fq qdisc': 'bbr-without-fq',
});

function doctorOn(ctx: ScenarioContext, doctor: HostDoctor, tmp: string, tree: 'footguns' | 'clean') {
  ctx.signal.throwIfAborted();
  return doctor.diagnose(tree, path.join(tmp, tree));
}

/** What FM-18 needs of a host doctor (the CLI's `breakwater doctor` provides it; the scorecard cannot import the CLI). */
export interface HostDoctor {
  /** Every check the doctor runs, by finding id: each must report on the footgun tree. */
  readonly checks: readonly { readonly id: string }[];
  /**
   * Writes a fixture `/proc` + `/etc` tree under `dir` — `footguns` (every footgun the doctor knows) or
   * `clean` (none) — and runs the doctor on it.
   */
  diagnose(tree: 'footguns' | 'clean', dir: string): Promise<{ findings: readonly { id: string; fix: { commands: readonly string[] } }[] }>;
}

/** FM-18 with the host doctor it measures. */
export const fm18 = (doctor: HostDoctor): Scenario => ({
  id: 'FM-18',
  title: 'Host tuning footguns (tcp_tw_recycle, small buffers, conntrack, keepalive sysctls, tcp_retries2, …)',
  bound: 'every footgun in seeds/001 detected with its fix',
  naiveExpectation: 'no warning about any of them',
  twinExpectation: 'a clean host (every setting sound): no findings',
  requires: [],
  budgetMs: 20_000,
  async run(ctx) {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'bw-scorecard-fm18-'));
    ctx.defer(() => rm(tmp, { recursive: true, force: true }));
    ctx.progress('doctor on a fixture /proc with every footgun');
    const footguns = await doctorOn(ctx, doctor, tmp, 'footguns');
    ctx.progress('doctor on a clean fixture /proc (control)');
    const clean = await doctorOn(ctx, doctor, tmp, 'clean');

    const expected = doctor.checks.map((c) => c.id);
    const withFix = new Set(footguns.findings.filter((f) => f.fix.commands.length > 0).map((f) => f.id));
    const found = expected.filter((id) => withFix.has(id));
    const missing = expected.filter((id) => !withFix.has(id));
    const seedMissed = Object.entries(SEED_FOOTGUNS).filter(([, id]) => !withFix.has(id));
    const n = expected.length;
    const ok = missing.length === 0 && seedMissed.length === 0;
    return {
      naive: {
        value: 0,
        unit: 'findings',
        text: `0 of ${n} reported`,
        // The failure is "present and unreported": it holds when the tree really holds the footguns.
        ok: found.length > 0,
      },
      breakwater: {
        value: found.length,
        unit: 'findings',
        text: `${found.length} of ${n} with the fix`,
        ok,
      },
      twin: {
        value: clean.findings.length,
        unit: 'findings',
        text: clean.findings.length === 0 ? '0 on a clean host' : `${clean.findings.length} on a clean host: ${clean.findings.map((f) => f.id).join(', ')}`,
        ok: clean.findings.length === 0,
      },
      notes: [
        `seeds/001: ${Object.keys(SEED_FOOTGUNS).length - seedMissed.length} of ${Object.keys(SEED_FOOTGUNS).length} host footguns found (its Nagle, TCP_NODELAY and SO_REUSEADDR items are per-socket options that @breakwater/socket sets)`,
        ...(missing.length > 0 ? [`not reported: ${missing.join(', ')}`] : []),
        ...notApplied(ctx, 'a host-level row: it reads sysctls and the host, not client options'),
        ...(clean.findings.length > 0 ? [`reported on the clean tree: ${clean.findings.map((f) => f.id).join(', ')}`] : []),
      ],
    };
  },
});
