import type net from 'node:net';
import { BreakwaterError, type Clock, type TimerHandle } from '@breakwater/core';
import type { TcpInfo } from './tcpInfo.js';

/** What the watchdog saw when it fired; `details.observed` of its BW_ERR_STALLED. */
export type StallObservation =
  /** TCP_INFO: segments we sent stay unacknowledged and the acknowledged byte count does not move. */
  | 'unacknowledged'
  /** No TCP_INFO: bytes we wrote wait in this process and the buffer does not shrink. */
  | 'notDraining'
  /** An expectation was open (`guard.expect()`, or a write with `expectResponseAfterWrite`) and no byte came. */
  | 'awaitingBytes';

/**
 * Destroys a socket that makes no progress while progress is owed. Two
 * different debts, told apart so a peer that is only *thinking* is never
 * mistaken for a dead one:
 *
 * - **Our bytes** (always watched): with TCP_INFO (Linux, koffi) the kernel
 *   says whether segments we sent are unacknowledged (`tcpi_unacked`) and
 *   whether the acknowledged byte count moves (`tcpi_bytes_acked`); a peer
 *   whose kernel acknowledged everything is alive, however long it takes to
 *   answer. Without TCP_INFO only bytes still waiting in this process count
 *   (`writableLength` not shrinking): once a request is fully written, waiting
 *   for the answer never trips this side. A closed receive window (the peer
 *   reads slowly, FM-10) is backpressure, not a stall: its probes are answered.
 * - **Their bytes** (only when a protocol layer says some are owed:
 *   `expect()`/`settle()`, or `expectResponseAfterWrite` for raw
 *   request/response protocols): no byte read for the timeout.
 *
 * This is the fallback for TCP_USER_TIMEOUT (FM-02) and the cure for a PMTU
 * black hole (FM-06), where small packets pass and large ones vanish. One lazy
 * timer per socket, armed only while something may be owed; progress only
 * records a timestamp; TCP_INFO is read when the timer fires, never per write.
 */
export class StallWatchdog {
  readonly #socket: net.Socket;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #describePeer: (socket: net.Socket) => string;
  readonly #readInfo: (socket: net.Socket) => TcpInfo | undefined;
  #timer: TimerHandle | undefined;
  #lastProgressAt = 0;
  #expecting = 0;
  #lastWritable = 0;
  /** Send side: when we last saw `tcpi_bytes_acked` move (or the user-space buffer shrink). */
  #sendProgressAt = 0;
  #lastAcked: number | undefined;
  /** Whether TCP_INFO could be read on this connected socket; undefined until tried. */
  #hasInfo: boolean | undefined;
  #disposed = false;

  constructor(
    socket: net.Socket,
    timeoutMs: number,
    clock: Clock,
    describePeer: (socket: net.Socket) => string = peerOf,
    readInfo: (socket: net.Socket) => TcpInfo | undefined = noTcpInfo,
  ) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    this.#clock = clock;
    this.#describePeer = describePeer;
    this.#readInfo = readInfo;
  }

  /** True while the watchdog is counting. */
  get armed(): boolean {
    return this.#timer !== undefined;
  }

  /** Bytes from the peer are owed from now on (nested calls count). */
  expect(): void {
    this.#expecting++;
    if (this.#timer === undefined) this.progress();
    this.#armIfIdle();
  }

  /** The awaited bytes are complete. */
  settle(): void {
    if (this.#expecting > 0) this.#expecting--;
  }

  /** Forget every open expectation (the first byte of a response arrived). */
  settleAll(): void {
    this.#expecting = 0;
  }

  /** Bytes arrived or the write buffer drained: the connection is alive. */
  progress(): void {
    this.#lastProgressAt = this.#clock.now();
    this.#lastWritable = this.#socket.writableLength;
  }

  /** Data was handed to write(): watch it until the peer has it. */
  wrote(): void {
    // Without TCP_INFO, a write the kernel took whole owes nothing we could watch.
    if (this.#hasInfo === false && this.#socket.writableLength === 0) return;
    if (this.#timer === undefined) {
      this.progress();
      this.#sendProgressAt = this.#lastProgressAt;
      this.#lastAcked = undefined;
    }
    this.#armIfIdle();
  }

  /** Clears the timer; the watchdog never fires again. Synchronous, hence no `close()`. Idempotent. */
  dispose(): void {
    this.#disposed = true;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #armIfIdle(): void {
    if (this.#disposed || this.#timeoutMs === 0 || this.#timer !== undefined) return;
    this.#arm(this.#timeoutMs);
  }

  #arm(delayMs: number): void {
    this.#timer = this.#clock.setTimeout(() => this.#check(), Math.max(1, delayMs));
  }

  #check(): void {
    this.#timer = undefined;
    if (this.#disposed || this.#socket.destroyed) return;
    const now = this.#clock.now();
    const writable = this.#socket.writableLength;
    // A shrinking write buffer is progress even if no 'drain' fired yet.
    if (writable < this.#lastWritable) {
      this.progress();
      this.#sendProgressAt = now;
    }
    this.#lastWritable = writable;
    const info = this.#readInfo(this.#socket);
    if (!this.#socket.connecting) this.#hasInfo = info !== undefined;
    const send = this.#sendDebt(info, now, writable);
    if (send.owed && send.idleMs >= this.#timeoutMs) {
      this.#fire(send.observed, send.idleMs, info);
      return;
    }
    let waitMs = send.owed ? this.#timeoutMs - send.idleMs : Number.POSITIVE_INFINITY;
    if (this.#expecting > 0) {
      const idleMs = now - this.#lastProgressAt;
      if (idleMs >= this.#timeoutMs) {
        this.#fire('awaitingBytes', idleMs, info);
        return;
      }
      waitMs = Math.min(waitMs, this.#timeoutMs - idleMs);
    }
    if (Number.isFinite(waitMs)) this.#arm(waitMs);
  }

  /** Whether bytes we sent are owed an acknowledgement, and for how long nothing moved. */
  #sendDebt(info: TcpInfo | undefined, now: number, writable: number): { owed: boolean; idleMs: number; observed: StallObservation } {
    if (info === undefined) return { owed: writable > 0, idleMs: now - this.#sendProgressAt, observed: 'notDraining' };
    // With unacked 0 the peer has everything that left; bytes waiting behind a closed window are
    // backpressure from a live peer (it answers the window probes), not a stall.
    if (info.unacked === 0) {
      this.#lastAcked = info.bytesAcked;
      this.#sendProgressAt = now;
      return { owed: false, idleMs: 0, observed: 'unacknowledged' };
    }
    if (info.bytesAcked !== undefined && info.bytesAcked !== this.#lastAcked) {
      // First reading: the acked count last moved no later than the last ACK of any kind.
      this.#sendProgressAt = this.#lastAcked === undefined ? Math.max(this.#sendProgressAt, now - info.lastAckRecvMs) : now;
      this.#lastAcked = info.bytesAcked;
    } else if (info.bytesAcked === undefined) {
      // Kernels before 4.1: the time since the last ACK is all there is.
      this.#sendProgressAt = Math.max(this.#sendProgressAt, now - info.lastAckRecvMs);
    }
    return { owed: true, idleMs: now - this.#sendProgressAt, observed: 'unacknowledged' };
  }

  #fire(observed: StallObservation, idleMs: number, info: TcpInfo | undefined): void {
    const s = this.#socket;
    const idle = Math.round(idleMs);
    const { what, hint } = describe(observed, idle, s, info);
    s.destroy(
      new BreakwaterError('BW_ERR_STALLED', `no progress from ${this.#describePeer(s)} for ${idle} ms: ${what}`, {
        hint,
        details: {
          observed,
          stallTimeoutMs: this.#timeoutMs,
          idleMs: idle,
          writableLength: s.writableLength,
          bytesWritten: s.bytesWritten,
          bytesRead: s.bytesRead,
          ...(info === undefined
            ? {}
            : { unackedSegments: info.unacked, lastAckMs: info.lastAckRecvMs, retransmits: info.totalRetrans ?? info.retrans, pmtu: info.pmtu }),
        },
      }),
    );
  }
}

const noTcpInfo = () => undefined;

/** `host:port` of the socket's peer, for messages. */
export function peerOf(socket: net.Socket): string {
  const host = socket.remoteAddress ?? (socket as { _host?: string })._host ?? 'peer';
  const port = socket.remotePort;
  const h = host.includes(':') ? `[${host}]` : host;
  return port === undefined ? h : `${h}:${port}`;
}

const PMTU = 'large packets dropped on the path while small ones pass (PMTU black hole: ICMP "fragmentation needed" filtered, FM-06)';

/** The message tail and the hint for what was observed: say what we saw, name the likely causes. */
function describe(observed: StallObservation, idleMs: number, s: net.Socket, info: TcpInfo | undefined): { what: string; hint: string } {
  if (observed === 'unacknowledged' && info !== undefined) {
    const acksArrive = info.lastAckRecvMs < idleMs;
    return {
      what: `${info.unacked} segments we sent unacknowledged (last ACK ${info.lastAckRecvMs} ms ago, ${info.totalRetrans ?? info.retrans} retransmissions)`,
      hint: acksArrive
        ? `The peer still sends ACKs but acknowledges none of our data: ${PMTU}. Check MTUs on the path and \`breakwater doctor\`.`
        : `Nothing at all came back from the peer: it or the path is gone (crashed host, dropped route or NAT entry, FM-02), or every segment we send is too large for the path (${PMTU}).`,
    };
  }
  if (observed === 'notDraining') {
    return {
      what: `${s.writableLength} bytes waiting to be written`,
      hint: `Our data does not leave this process: the peer stopped reading (FM-10), it or the path is gone (FM-02), or ${PMTU}.`,
    };
  }
  const delivered = info !== undefined && info.unacked === 0;
  return {
    what: `bytes expected, none arrived (${s.bytesWritten} bytes sent${delivered ? ' and acknowledged' : ''}, ${s.bytesRead} received)`,
    hint: delivered
      ? `The peer's kernel acknowledged everything we sent but nothing came back: the server is slow or frozen, or its answer is lost on the way (${PMTU}).`
      : `Nothing came back: the server is slow or frozen, its answer is lost on the way (${PMTU}), or the peer or path is gone (FM-02).`,
  };
}
