// The launcher lives in @breakwater/scorecard, whose FM-07 and FM-16 scenarios run HAProxy too: one copy.
export { freePort, type Haproxy, haproxyBinary, startHaproxy } from '@breakwater/scorecard';
