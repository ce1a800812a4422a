import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeTcpInfo, TCP_INFO_OFFSETS } from './tcpInfo.js';

const HEADER = '/usr/include/linux/tcp.h';

/** Field → offset of `struct tcp_info`, computed from the header with natural alignment. */
function offsetsFromHeader(text: string): Map<string, number> {
  const body = /struct tcp_info \{([\s\S]*?)\n\};/.exec(text)?.[1] ?? '';
  const out = new Map<string, number>();
  let offset = 0;
  for (const m of body.matchAll(/__u(8|16|32|64)\s+([^;]+);/g)) {
    const size = Number(m[1]) / 8;
    offset = Math.ceil(offset / size) * size;
    // A line of bit-fields (`a : 4, b : 4`) shares one unit.
    const names = m[2]!.split(',').map((n) => n.split(':')[0]!.trim());
    for (const n of names) out.set(n, offset);
    offset += size;
  }
  return out;
}

const toHeaderName: Record<string, string> = {
  state: 'tcpi_state',
  caState: 'tcpi_ca_state',
  wscale: 'tcpi_snd_wscale',
  rtoUs: 'tcpi_rto',
  atoUs: 'tcpi_ato',
  rttUs: 'tcpi_rtt',
  rttVarUs: 'tcpi_rttvar',
  minRttUs: 'tcpi_min_rtt',
  lastDataSentMs: 'tcpi_last_data_sent',
  lastDataRecvMs: 'tcpi_last_data_recv',
  lastAckRecvMs: 'tcpi_last_ack_recv',
};
const headerName = (key: string) => toHeaderName[key] ?? `tcpi_${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;

describe('struct tcp_info decoding', () => {
  it.skipIf(!existsSync(HEADER))('uses the offsets of linux/tcp.h', () => {
    const fromHeader = offsetsFromHeader(readFileSync(HEADER, 'utf8'));
    for (const [key, offset] of Object.entries(TCP_INFO_OFFSETS)) expect(fromHeader.get(headerName(key)), key).toBe(offset);
  });

  it('decodes each field from its offset, the window scales from one byte', () => {
    const raw = new Uint8Array(232);
    const view = new DataView(raw.buffer);
    let n = 1;
    for (const [key, offset] of Object.entries(TCP_INFO_OFFSETS)) {
      if (offset < 8) view.setUint8(offset, key === 'wscale' ? 0x97 : n++);
      else view.setUint32(offset, 1000 + n++, true);
    }
    const info = decodeTcpInfo(raw)!;
    expect(info).toMatchObject({ state: 1, caState: 2, retransmits: 3, sndWscale: 7, rcvWscale: 9, rtoUs: 1007 });
    expect(info.pmtu).toBe(view.getUint32(60, true));
    expect(info.rttUs).toBe(view.getUint32(68, true));
    expect(info.minRttUs).toBe(view.getUint32(148, true));
  });

  it('gives up on a struct too short to hold the metrics, and omits fields past the end', () => {
    expect(decodeTcpInfo(new Uint8Array(91))).toBeUndefined();
    const short = decodeTcpInfo(new Uint8Array(104))!;
    expect(short.totalRetrans).toBe(0);
    expect(short.minRttUs).toBeUndefined();
  });
});
