/**
 * The programs the fault tests run inside namespaces live in
 * `@breakwater/chaos` (shared with `breakwater scorecard`); re-exported here
 * so the tests keep one import path.
 */
export { ECHO_SERVER, REQUEST_CLIENT, SIZED_RESPONSE_SERVER } from '../../packages/chaos/src/programs/index.js';
