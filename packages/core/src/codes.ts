/**
 * Every error code Breakwater throws. Codes are the contract users match on:
 * never rename or reuse one; add new ones at the end of their group.
 * `docs/errors.md` is generated from this table's content and checked by a test.
 */
export const ERROR_CODES = Object.freeze({
  // Connection establishment
  BW_ERR_CONNECT_TIMEOUT: {
    retryable: true,
    summary: 'The TCP (or TLS) handshake did not finish in time.',
    hint: 'SYNs dropped silently: a firewall, a full conntrack table or a full accept queue on the server (FM-05). Another address or a later attempt may work.',
  },
  BW_ERR_CONNECT_REFUSED: {
    retryable: true,
    summary: 'The peer answered the SYN with a reset: nothing listens on that port.',
    hint: 'The server is down, restarting, or listening elsewhere. Retrying another address or after a backoff may work.',
  },
  BW_ERR_PEER_UNREACHABLE: {
    retryable: true,
    summary: 'No route to the peer (EHOSTUNREACH / ENETUNREACH).',
    hint: 'A router reported the host or network unreachable: a dead host, a missing route or a firewall sending ICMP errors.',
  },
  BW_ERR_PORTS_EXHAUSTED: {
    retryable: false,
    summary: 'No local port was free for a new connection (EADDRNOTAVAIL).',
    hint: 'Ephemeral port exhaustion, usually TIME_WAIT from a connection per request (FM-03): pool and reuse connections, or widen net.ipv4.ip_local_port_range.',
  },
  BW_ERR_DNS: {
    retryable: true,
    summary: 'The name could not be resolved.',
    hint: 'The resolver failed or answered NXDOMAIN; check the name and the resolver, and that negative answers are not cached forever (FM-13).',
  },
  BW_ERR_TLS: {
    retryable: false,
    summary: 'The TLS handshake failed (certificate, protocol or ALPN).',
    hint: 'details.tlsCode is the OpenSSL code and details.tlsProblem says which: unknown-ca (pass the private CA as tls.ca), hostname-mismatch (call a name on the certificate, or set tls.servername), expired (renew; check the clock), client-certificate-required or -rejected (tls.cert and tls.key), protocol. Retrying does not fix a certificate.',
  },
  BW_ERR_PROXY: {
    retryable: true,
    summary: 'The HTTP proxy could not be reached, or refused to open the tunnel to the origin.',
    hint: 'details.proxy names the proxy (credentials removed); details.statusCode is its answer to CONNECT: 407 (credentials missing or wrong), 403 (the proxy forbids this host or port), 502/503/504 (the proxy could not reach the origin). With no statusCode the proxy itself is down or unreachable (details.errno). Check HTTP_PROXY/HTTPS_PROXY/NO_PROXY.',
  },
  // Established connections
  BW_ERR_PEER_RESET: {
    retryable: true,
    summary: 'The peer reset the connection (ECONNRESET / EPIPE).',
    hint: 'The server or a load balancer closed the connection, often a reused idle connection closed by the other side (FM-07, FM-16). Safe to retry only if the request was idempotent or never sent.',
  },
  BW_ERR_PEER_CLOSED: {
    retryable: true,
    summary: 'The peer closed the connection before the exchange finished.',
    hint: 'The server closed a connection that was still in use, for example at its idle timeout (FM-07). Retry idempotent requests on a fresh connection.',
  },
  BW_ERR_PEER_TIMEOUT: {
    retryable: true,
    summary: 'The kernel gave up on the peer (ETIMEDOUT): keepalive probes or retransmissions went unanswered.',
    hint: 'The peer or the path is gone without a FIN or RST: a crashed host, a dropped NAT/conntrack entry or a blackholed route (FM-01, FM-02).',
  },
  BW_ERR_STALLED: {
    retryable: true,
    summary: 'The connection made no progress (no bytes read, written data not draining) for too long.',
    hint: 'A PMTU black hole (large packets dropped while ICMP is filtered, FM-06), a dead peer or a frozen server process; small messages may still pass.',
  },
  BW_ERR_CLOSED: {
    retryable: false,
    summary: 'The object was closed by its owner and cannot be used any more.',
    hint: 'Something called close() or destroy() on it first; create a new one.',
  },
  BW_ERR_OUTCOME_UNKNOWN: {
    retryable: false,
    summary: 'The connection was lost after the statement or command was sent: it may or may not have been applied.',
    hint: 'The server may have run it before the connection died (a restart, a kill, a failover). Check whether it took effect before running it again; mark statements that are safe to repeat `idempotent` to have them retried.',
  },
  BW_ERR_HEADERS_TIMEOUT: {
    retryable: false,
    summary: 'The request was delivered but no response headers came back within the headers timeout.',
    hint: 'The server is slow or frozen, or its answer is lost on the way (PMTU black hole, FM-06). Not retried by default: sending it again would add load to a slow server. Raise `headersTimeoutMs` for calls that think longer.',
  },
  // Policies
  BW_ERR_POOL_EXHAUSTED: {
    retryable: true,
    summary: 'No connection could be borrowed within the acquire timeout, or too many callers were waiting.',
    hint: 'The pool is at its limit: the upstream is slow, connections leak, or the load is above capacity. Queues do not fix overload; shed load or add capacity.',
  },
  BW_ERR_RETRY_BUDGET: {
    retryable: false,
    summary: 'The retry budget for this upstream refused another retry.',
    hint: 'Too many retries relative to requests: the upstream is failing and more retries would only amplify the load (FM-11).',
  },
  BW_ERR_CIRCUIT_OPEN: {
    retryable: false,
    summary: 'The circuit breaker for this upstream is open; the call was not attempted.',
    hint: 'Recent calls failed too often; the breaker sheds load until a probe succeeds (FM-12).',
  },
  BW_ERR_ACK_TIMEOUT: {
    retryable: true,
    summary: 'The peer application did not acknowledge the message in time.',
    hint: 'The peer process is frozen, overloaded or gone while its kernel may still ACK (half-open, FM-09).',
  },
  BW_ERR_NACKED: {
    retryable: false,
    summary: 'The peer application received the message and rejected it (NACK): its handler failed.',
    hint: "The server's handler threw or rejected. Retrying helps only if the handler's failure was transient; `retryable` carries what the server said.",
  },
  BW_ERR_BACKPRESSURE: {
    retryable: true,
    summary: 'The send window or queue is full and the overflow policy rejects.',
    hint: 'The reader is slower than the writer (FM-10): slow down, or raise the window if memory allows.',
  },
  BW_ERR_DEADLINE: {
    retryable: false,
    summary: 'The operation’s deadline passed.',
    hint: 'The total time allowed for the operation, attempts and backoff included, ran out.',
  },
  BW_ERR_ABORTED: {
    retryable: false,
    summary: 'The caller aborted the operation through its AbortSignal.',
    hint: 'An AbortSignal passed by the caller fired.',
  },
  // Local durable state (the ack client's outbox)
  BW_ERR_OUTBOX_LOCKED: {
    retryable: true,
    summary: 'Another client (in this process or another) has the outbox file open.',
    hint: 'Two clients on one outbox would reuse each other’s session and ids. Give each client its own `outboxPath`, or start the new one after the old one closed or exited.',
  },
  BW_ERR_OUTBOX_INVALID: {
    retryable: false,
    summary: 'The outbox file is not a Breakwater outbox this version can use.',
    hint: 'The path names another SQLite database, a corrupt or foreign file, or an outbox written by a newer Breakwater; the file was left untouched. Point `outboxPath` at a file of its own.',
  },
  BW_ERR_OUTBOX_WRITE: {
    retryable: false,
    summary: 'The outbox could not record the message, so it was not sent.',
    hint: 'The disk is full, the file or its directory became read-only, or the storage failed (see `cause`). Free space or fix the storage, then send again.',
  },
  // Input and protocol
  BW_ERR_INVALID_OPTION: {
    retryable: false,
    summary: 'An option is missing, of the wrong type or out of range.',
    hint: 'Fix the option named in the message; the legal range is given there.',
  },
  BW_ERR_PROTOCOL: {
    retryable: false,
    summary: 'The peer sent something that breaks the protocol (malformed or oversized frame).',
    hint: 'The connection was closed to protect the process; check that both sides speak the same protocol version.',
  },
  BW_ERR_UNSUPPORTED: {
    retryable: false,
    summary: 'The platform lacks what the operation needs (root, Linux, a native binding).',
    hint: 'Run as root on Linux for kernel-level features, or use the portable fallback.',
  },
  BW_ERR_NETWORK: {
    retryable: true,
    summary: 'Another network error Breakwater could not classify more precisely.',
    hint: 'See `cause` for the original error.',
  },
  BW_ERR_INTERNAL: {
    retryable: false,
    summary: 'A bug or an unexpected error inside Breakwater or a dependency.',
    hint: 'Please report it with `cause` and the stack.',
  },
} as const satisfies Record<string, { retryable: boolean; summary: string; hint: string }>);

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}
