import { intRule, msRule, numberRule, resolveOptions, validateNumber, validateString } from '@breakwater/core';
import { SOCKET_DEFAULTS } from '@breakwater/socket';

export interface DoctorOptions {
  /** Where procfs is mounted; point it at a fixture tree in tests. @defaultValue '/proc' */
  procRoot?: string;
  /** Where sysctl configuration lives (`sysctl.conf`, `sysctl.d/`), scanned for removed keys. @defaultValue '/etc' */
  etcRoot?: string;
  /**
   * New connections per second this host opens to one destination
   * (ip:port). Each leaves a 60 s TIME_WAIT, so the port range must hold
   * `connRate × 60` ports (FM-03).
   * @defaultValue 100
   */
  connRate?: number;
  /** Round-trip time of the longest path this host serves, for the bandwidth-delay product. @defaultValue 100 */
  rttMs?: number;
  /** Bandwidth of that path, for the bandwidth-delay product. @defaultValue 100 */
  bandwidthMbps?: number;
  /**
   * Shortest idle timeout of a NAT, firewall or load balancer on the path
   * (AWS NAT gateway: 350 s, ALB: 60 s, Azure LB: 240 s). Keepalive must
   * probe before it (FM-01).
   * @defaultValue 350_000
   */
  pathIdleTimeoutMs?: number;
  /** conntrack count / max above which new flows are about to be dropped silently (FM-05). @defaultValue 0.8 */
  conntrackWarnRatio?: number;
  /** CLOSE_WAIT sockets in one process above which it is reported as a leak, not a moment (FM-17). @defaultValue 10 */
  closeWaitWarnCount?: number;
  /** Accept queue and SYN backlog below this drop SYNs under a burst (FM-05). @defaultValue 1024 */
  minBacklog?: number;
  /** Longest acceptable time for unacknowledged data to fail from `tcp_retries2` alone (FM-02). @defaultValue 120_000 */
  maxRetransmitMs?: number;
}

export type ResolvedDoctorOptions = Required<DoctorOptions>;

export const DOCTOR_DEFAULTS = Object.freeze({
  procRoot: '/proc',
  etcRoot: '/etc',
  connRate: 100,
  rttMs: 100,
  bandwidthMbps: 100,
  pathIdleTimeoutMs: 350_000,
  conntrackWarnRatio: 0.8,
  closeWaitWarnCount: 10,
  minBacklog: 1024,
  maxRetransmitMs: 120_000,
}) satisfies ResolvedDoctorOptions;

const positive = (max: number) => (v: unknown, k: string) => validateNumber(v, k, { min: Number.MIN_VALUE, max });

export function resolveDoctorOptions(options: DoctorOptions = {}): ResolvedDoctorOptions {
  return resolveOptions<ResolvedDoctorOptions>(options, 'doctor', DOCTOR_DEFAULTS, {
    procRoot: (v, k) => validateString(v, k),
    etcRoot: (v, k) => validateString(v, k),
    connRate: positive(1_000_000),
    rttMs: positive(60_000),
    bandwidthMbps: positive(1_000_000),
    pathIdleTimeoutMs: msRule(1_000, 86_400_000),
    conntrackWarnRatio: numberRule(0.01, 1),
    closeWaitWarnCount: intRule(1, 1_000_000),
    minBacklog: intRule(1, 1_000_000),
    maxRetransmitMs: msRule(1_000, 86_400_000),
  });
}

export interface ProbeOptions {
  /** Bound on each address's TCP handshake (FM-05). @defaultValue 3_000 */
  connectTimeoutMs?: number;
  /**
   * Bytes to send to an echo server and expect back; a PMTU black hole
   * (FM-06) passes small payloads and stalls large ones. 0 skips the check.
   * @defaultValue 0
   */
  echoBytes?: number;
  /** Time allowed for all echoed bytes to come back before the check reports a stall. @defaultValue 5_000 */
  echoTimeoutMs?: number;
}

export type ResolvedProbeOptions = Required<ProbeOptions>;

export const PROBE_DEFAULTS = Object.freeze({
  // The number lives in @breakwater/socket; this package only passes it on.
  connectTimeoutMs: SOCKET_DEFAULTS.connectTimeoutMs,
  echoBytes: 0,
  echoTimeoutMs: 5_000,
}) satisfies ResolvedProbeOptions;

export function resolveProbeOptions(options: ProbeOptions = {}): ResolvedProbeOptions {
  return resolveOptions<ResolvedProbeOptions>(options, 'probe', PROBE_DEFAULTS, {
    connectTimeoutMs: msRule(1, 600_000),
    echoBytes: intRule(0, 1_073_741_824),
    echoTimeoutMs: msRule(1, 600_000),
  });
}
