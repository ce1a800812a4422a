import { BreakwaterError, describe, MAX_TIMER_MS, validateNumber, validateOneOf, validateOptionsObject } from '@breakwater/core';
import { FAULT_DEFAULTS, FAULT_TYPES, type FaultDirection, type FaultSpec, type FaultType, type ResolvedFault } from './faults.js';

const DIRECTIONS = ['upstream', 'downstream', 'both'] as const;

const FIELDS: { readonly [T in FaultType]: readonly string[] } = {
  latency: ['latencyMs', 'jitterMs'],
  bandwidth: ['bytesPerSecond'],
  slicer: ['averageSize', 'sizeVariation', 'delayMs'],
  blackhole: [],
  reset: ['afterMs', 'afterBytes'],
  halfClose: ['afterMs', 'afterBytes'],
  slowClose: ['delayMs'],
  limitData: ['bytes'],
  idleReset: ['idleMs'],
};

function knownKeys(type: FaultType): string[] {
  return ['type', 'probability', ...(type === 'idleReset' ? [] : ['direction']), ...FIELDS[type]];
}

const ms = (value: unknown, key: string): number => validateNumber(value, key, { min: 0, max: MAX_TIMER_MS });
const byteCount = (value: unknown, key: string): number => validateNumber(value, key, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });

/**
 * Validates one fault spec and fills in its defaults. `prefix` is put in front
 * of every key in messages (`faults[2].`), so a bad entry in a list is easy to find.
 *
 * @throws BreakwaterError `BW_ERR_INVALID_OPTION` naming the key and its legal range.
 */
export function resolveFault(spec: unknown, id: string, prefix = ''): ResolvedFault {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      `Expected \`${prefix === '' ? 'fault' : prefix.slice(0, -1)}\` to be a fault object such as { type: 'latency', latencyMs: 100 }, got ${describe(spec)}`,
      { details: { key: prefix === '' ? 'fault' : prefix.slice(0, -1) } },
    );
  }
  const raw = spec as Record<string, unknown>;
  const type = validateOneOf(raw.type, `${prefix}type`, FAULT_TYPES);
  validateOptionsObject(raw, `the ${type} fault spec`, knownKeys(type));
  const defaults: { probability: number; direction?: FaultDirection } = FAULT_DEFAULTS[type];
  const key = (name: string) => `${prefix}${name}`;
  const opt = (name: string, fallback: unknown) => (raw[name] === undefined ? fallback : raw[name]);

  const common = {
    id,
    probability: validateNumber(opt('probability', defaults.probability), key('probability'), { min: 0, max: 1 }),
    direction: validateOneOf(opt('direction', defaults.direction ?? 'both'), key('direction'), DIRECTIONS),
  };
  const f = raw as Partial<Record<string, unknown>>;
  switch (type) {
    case 'latency':
      return { ...common, type, latencyMs: ms(f.latencyMs, key('latencyMs')), jitterMs: ms(opt('jitterMs', FAULT_DEFAULTS.latency.jitterMs), key('jitterMs')) };
    case 'bandwidth':
      return { ...common, type, bytesPerSecond: validateNumber(f.bytesPerSecond, key('bytesPerSecond'), { min: 1 }) };
    case 'slicer':
      return {
        ...common,
        type,
        averageSize: validateNumber(f.averageSize, key('averageSize'), { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true }),
        sizeVariation: byteCount(opt('sizeVariation', FAULT_DEFAULTS.slicer.sizeVariation), key('sizeVariation')),
        delayMs: ms(opt('delayMs', FAULT_DEFAULTS.slicer.delayMs), key('delayMs')),
      };
    case 'blackhole':
      return { ...common, type };
    case 'reset':
    case 'halfClose': {
      const afterMs = f.afterMs === undefined ? undefined : ms(f.afterMs, key('afterMs'));
      const afterBytes = f.afterBytes === undefined ? undefined : byteCount(f.afterBytes, key('afterBytes'));
      if (afterMs !== undefined && afterBytes !== undefined) {
        throw new BreakwaterError(
          'BW_ERR_INVALID_OPTION',
          `Expected only one of \`${key('afterMs')}\` and \`${key('afterBytes')}\` in the ${type} fault spec, got both`,
          {
            details: { key: key('afterBytes') },
          },
        );
      }
      return { ...common, type, afterMs, afterBytes };
    }
    case 'slowClose':
      return { ...common, type, delayMs: ms(f.delayMs, key('delayMs')) };
    case 'limitData':
      return { ...common, type, bytes: byteCount(f.bytes, key('bytes')) };
    case 'idleReset':
      return { ...common, type, idleMs: ms(f.idleMs, key('idleMs')) };
  }
}

/** The spec a resolved fault came from, defaults included (for listing faults). */
export function specOf(fault: ResolvedFault): FaultSpec {
  const { id: _id, ...rest } = fault;
  if (fault.type === 'idleReset') {
    const { direction: _d, ...withoutDirection } = rest;
    return withoutDirection as FaultSpec;
  }
  return rest as FaultSpec;
}
