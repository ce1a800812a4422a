import type { TcpInfo } from '@breakwater/socket';
import { type Io, paint } from '../output.js';
import type { ProbeReport } from './probe.js';

const ms = (us: number) => `${(us / 1000).toFixed(2)} ms`;

function tcpInfoLine(t: TcpInfo): string {
  return (
    `rtt ${ms(t.rttUs)} ± ${ms(t.rttVarUs)}, rto ${ms(t.rtoUs)}, mss ${t.sndMss}/${t.advmss}, pmtu ${t.pmtu}, cwnd ${t.sndCwnd}, ` +
    `retransmits ${t.retransmits}${t.totalRetrans === undefined ? '' : ` (total ${t.totalRetrans})`}, wscale ${t.sndWscale}/${t.rcvWscale}`
  );
}

export function formatProbe(report: ProbeReport, io: Pick<Io, 'color'>): string {
  const lines = [paint(io, 'bold', `breakwater probe — ${report.host.includes(':') ? `[${report.host}]` : report.host}:${report.port}`), ''];
  for (const a of report.addresses) {
    const head = a.error === undefined ? paint(io, a.ok ? 'green' : 'red', a.ok ? '✔' : '✖') : paint(io, 'red', '✖');
    lines.push(`${head} ${a.address}  ${a.error === undefined ? `connected in ${a.connectMs} ms` : `${a.error.code}: ${a.error.message}`}`);
    if (a.error !== undefined) lines.push(`    ${paint(io, 'dim', 'hint:')} ${a.error.hint}`);
    if (a.tcpInfo !== undefined) lines.push(`    ${paint(io, 'dim', 'tcp_info:')} ${tcpInfoLine(a.tcpInfo)}`);
    const e = a.echo;
    if (e !== undefined) {
      const what = e.ok
        ? paint(io, 'green', `${e.receivedBytes} of ${e.sentBytes} bytes echoed in ${e.elapsedMs} ms`)
        : paint(
            io,
            'red',
            `${e.stalled ? 'stalled' : 'failed'}: ${e.receivedBytes} of ${e.sentBytes} bytes back after ${e.elapsedMs} ms${e.error === undefined ? '' : ` (${e.error})`}`,
          );
      lines.push(`    ${paint(io, 'dim', 'echo:')} ${what}`);
      if (e.hint !== undefined) lines.push(`    ${paint(io, 'dim', 'hint:')} ${e.hint}`);
      if (e.tcpInfo !== undefined) lines.push(`    ${paint(io, 'dim', 'after:')} ${tcpInfoLine(e.tcpInfo)}`);
    }
  }
  if (!report.tcpInfo.available) lines.push('', paint(io, 'dim', `TCP_INFO unavailable: ${report.tcpInfo.reason}`));
  const { connected, failed, stalled } = report.summary;
  lines.push('', `${connected} connected, ${failed} failed, ${stalled} stalled`);
  return `${lines.join('\n')}\n`;
}
