// A configuration that defeats two defences, as real ones do by accident:
//
// - socket: TCP_USER_TIMEOUT and the stall watchdog raised to 120 s ("our
//   batch endpoint is slow"): a peer that vanishes mid-request is now
//   reported after 2 minutes, not 10 s (FM-02).
// - http: a custom stack without the `retry` layer ("we retry in our own
//   code"), and keep-alive far past the load balancer's idle timeout: a
//   request sent on a connection the load balancer already closed fails
//   instead of being resent once on a fresh one (FM-07).
export default {
  socket: { userTimeoutMs: 120_000, stallTimeoutMs: 120_000 },
  http: {
    keepAliveTimeoutMs: 120_000,
    layers: (defaults) => defaults.filter((layer) => layer.role !== 'retry'),
  },
};
