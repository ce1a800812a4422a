// The trees live in src/ since the scorecard's FM-18 (through the CLI's doctor) writes FOOTGUNS at run time.
export * from '../src/doctor/procTrees.js';
