import { BreakwaterError } from './BreakwaterError.js';
import { type BackoffShape, backoffRules, type Rule, type Rules, validateAtLeast } from './rules.js';
import { describe } from './validate.js';

/**
 * One nested backoff option (`reconnectBackoff: { baseDelayMs, maxDelayMs }`)
 * resolved the same way in every package, plus the fold of the flat names it
 * replaces (`reconnectBaseDelayMs`…), accepted as deprecated aliases for one release.
 */

/** The flat option names an older release used for the two fields of a nested backoff option. */
export type BackoffAliases = { readonly [K in keyof BackoffShape]: string };

const FIELDS = ['baseDelayMs', 'maxDelayMs'] as const;

function resolveFields(given: Partial<BackoffShape>, names: BackoffAliases, defaults: BackoffShape, rules: Rules<BackoffShape>): BackoffShape {
  const out = {} as BackoffShape;
  for (const f of FIELDS) out[f] = rules[f](given[f] === undefined ? defaults[f] : given[f], names[f]);
  validateAtLeast({ [names.baseDelayMs]: out.baseDelayMs, [names.maxDelayMs]: out.maxDelayMs }, names.baseDelayMs, names.maxDelayMs);
  return Object.freeze(out);
}

/**
 * The rule of a nested backoff option: fields left out take `defaults`; a bad
 * or unknown field throws BW_ERR_INVALID_OPTION naming its full path
 * (`reconnectBackoff.maxDelayMs`), as does a cap below the base.
 */
export function backoffRule(defaults: BackoffShape, rules: Rules<BackoffShape> = backoffRules()): Rule<BackoffShape> {
  return (value, key) => {
    if (value === defaults) return defaults;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected \`${key}\` to be { baseDelayMs?, maxDelayMs? }, got ${describe(value)}`, {
        details: { key },
      });
    }
    for (const field of Object.keys(value)) {
      if (!(FIELDS as readonly string[]).includes(field)) {
        throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Unknown option \`${key}.${field}\``, {
          details: { key: `${key}.${field}` },
          hint: `\`${key}\` takes: ${FIELDS.join(', ')}.`,
        });
      }
    }
    return resolveFields(value as Partial<BackoffShape>, { baseDelayMs: `${key}.baseDelayMs`, maxDelayMs: `${key}.maxDelayMs` }, defaults, rules);
  };
}

/**
 * Folds the deprecated flat `aliases` of the nested option `key` into it and
 * returns the options without them. Values are checked under the flat names
 * the caller wrote. Giving both the nested option and an alias throws
 * BW_ERR_INVALID_OPTION naming `key`: which one wins would be a guess.
 */
export function foldBackoffAliases<O extends object | undefined>(
  options: O,
  key: string,
  aliases: BackoffAliases,
  defaults: BackoffShape,
  rules: Rules<BackoffShape> = backoffRules(),
): O {
  if (typeof options !== 'object' || options === null) return options;
  const given = options as Record<string, unknown>;
  const used = FIELDS.filter((f) => given[aliases[f]] !== undefined);
  const rest = { ...given };
  for (const f of FIELDS) delete rest[aliases[f]];
  if (used.length === 0) return rest as O;
  const flat = used.map((f) => `\`${aliases[f]}\``).join(', ');
  if (given[key] !== undefined) {
    throw new BreakwaterError('BW_ERR_INVALID_OPTION', `Expected either \`${key}\` or its deprecated flat form (${flat}), not both`, {
      details: { key },
      hint: `Move ${flat} into \`${key}: { ${FIELDS.join(', ')} }\`.`,
    });
  }
  const fromFlat = { baseDelayMs: given[aliases.baseDelayMs], maxDelayMs: given[aliases.maxDelayMs] } as Partial<BackoffShape>;
  rest[key] = resolveFields(fromFlat, aliases, defaults, rules);
  return rest as O;
}
