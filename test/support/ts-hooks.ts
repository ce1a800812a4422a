/**
 * Lets a plain `node` child run the workspace's TypeScript sources, the way
 * vitest does for the tests themselves: `@breakwater/<pkg>` resolves to
 * `packages/<pkg>/src/index.ts` and a relative `./x.js` import from a `.ts`
 * file to `./x.ts` (Node strips the types itself).
 *
 * Usage: `node --import ./test/support/ts-hooks.ts child.ts`
 */
import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

const packages = new URL('../../packages/', import.meta.url);

registerHooks({
  resolve(specifier, context, nextResolve) {
    const pkg = /^@breakwater\/([a-z][a-z0-9-]*)$/.exec(specifier)?.[1];
    if (pkg !== undefined) return nextResolve(new URL(`${pkg}/src/index.ts`, packages).href, context);
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts') === true) {
      const ts = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
      if (existsSync(fileURLToPath(ts))) return nextResolve(ts.href, context);
    }
    return nextResolve(specifier, context);
  },
});
