export { DRIVER_DEFAULTS, type DriverOptions, type ResolvedDriverOptions, resolveDriverOptions } from './defaults.js';
