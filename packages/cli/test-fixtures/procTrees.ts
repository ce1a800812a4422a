// The trees live in src/ since the scorecard's FM-18 scenario writes FOOTGUNS at run time.
export * from '../src/scorecard/procTrees.js';
