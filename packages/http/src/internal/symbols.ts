/** Set by the deadline layer on dispatch options: the request's Deadline. */
export const kDeadline = Symbol('breakwater.http.deadline');
/** Set by the retry layer: send this attempt on a brand-new connection. */
export const kFresh = Symbol('breakwater.http.fresh');
/** Set by the connector on socket errors: the socket had carried an earlier exchange. */
export const kReused = Symbol.for('breakwater.http.reusedSocket');
/** Set by the deadline layer when `propagate` excludes the origin: add no deadline or retry-marker header. */
export const kNoPropagate = Symbol('breakwater.http.noPropagate');
/** Set by the dns/balance layers: resolve the origin's name in the connect step, through this Resolution. */
export const kResolution = Symbol('breakwater.http.resolution');
/** Set by the dns/balance layers: send this request on a connection to this address (the origin keeps its name). */
export const kAddress = Symbol('breakwater.http.address');
