// The launcher lives in the CLI package, whose FM-16 scorecard scenario runs HAProxy too: one copy.
export { freePort, type Haproxy, haproxyBinary, startHaproxy } from '../../packages/cli/src/scorecard/scenarios/transport-support.js';
