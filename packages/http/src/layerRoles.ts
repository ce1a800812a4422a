import { BreakwaterError } from '@breakwater/core';
import type { Layer } from './layers/types.js';

/** The roles of the default stack, outermost first. */
export const BUILTIN_ROLES = Object.freeze(['deadline', 'retry', 'circuit', 'balance', 'dns'] as const);
export type BuiltinRole = (typeof BUILTIN_ROLES)[number];

/**
 * A `layers` option that removes layers by role, checking the names: a role that is neither built in nor
 * in the stack is a typo (`'circut'`), which a hand-written `filter` would ignore silently.
 * @example createClient({ layers: withoutLayers('circuit') })
 */
export function withoutLayers(...roles: (BuiltinRole | (string & {}))[]): (defaults: Layer[]) => Layer[] {
  return (defaults) => {
    const known = new Set<string>([...BUILTIN_ROLES, ...defaults.map((l) => l.role)]);
    for (const role of roles) {
      if (known.has(role)) continue;
      const near = [...known].find((k) => k.toLowerCase() === String(role).toLowerCase() || k.startsWith(String(role).slice(0, 3)));
      throw new BreakwaterError(
        'BW_ERR_INVALID_OPTION',
        `Unknown layer role \`${String(role)}\` in \`layers\`${near === undefined ? '' : ` (did you mean \`${near}\`?)`}; roles: ${[...known].join(', ')}`,
        { details: { key: 'layers' } },
      );
    }
    return defaults.filter((l) => !roles.includes(l.role));
  };
}
