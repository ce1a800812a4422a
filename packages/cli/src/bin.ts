#!/usr/bin/env node
import { main } from './main.js';
import { processIo } from './output.js';

const io = { ...processIo(), errTty: process.stderr.isTTY === true && process.env.TERM !== 'dumb', columns: process.stderr.columns };
const code = await main(process.argv.slice(2), io);
process.exitCode = code;
// A scorecard scenario that ignored its abort may still hold a socket or a
// timer; the command has finished and cleaned up, so do not hang on it.
setTimeout(() => process.exit(code), 5_000).unref();
