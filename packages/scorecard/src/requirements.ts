import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { netnsSupport } from '@breakwater/chaos';
import type { Scenario } from './types.js';

/** What the host can provide; injected in tests so the runner's skip logic runs anywhere. */
export interface HostSupport {
  /** root + `ip` + `nft` usable (a probe namespace can be created). */
  netns(): { available: boolean; reason?: string };
  /** `program` is an executable file on PATH (or, for PostgreSQL's, in /usr/lib/postgresql/<version>/bin). */
  hasProgram(program: string): boolean;
}

export function onPath(program: string, envPath: string = process.env.PATH ?? ''): boolean {
  for (const dir of envPath.split(path.delimiter)) {
    if (dir === '') continue;
    const file = path.join(dir, program);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return true;
    } catch {
      // Not here; try the next directory.
    }
  }
  return false;
}

/** Where Debian's postgresql package puts initdb and postgres (off PATH): /usr/lib/postgresql/<version>/bin, newest first. */
function postgresDirs(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql')
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`);
  } catch {
    return [];
  }
}

/** The executable `program` on PATH, else in PostgreSQL's Debian directories; undefined when neither has it. */
export function programPath(program: string, envPath: string = process.env.PATH ?? ''): string | undefined {
  for (const dir of [...envPath.split(path.delimiter), ...postgresDirs()]) {
    if (dir !== '' && onPath(program, dir)) return path.join(dir, program);
  }
  return undefined;
}

export const REAL_HOST: HostSupport = {
  netns: () => netnsSupport(),
  hasProgram: (program) => programPath(program) !== undefined,
};

export interface Unmet {
  /** The netns harness is missing: with BREAKWATER_REQUIRE_NETNS=1 this is an error, not a skip. */
  netns: boolean;
  reason: string;
}

/** Why `scenario` cannot run here, or undefined when it can. */
export function unmetRequirement(scenario: Scenario, host: HostSupport): Unmet | undefined {
  if (scenario.requires.includes('netns')) {
    const support = host.netns();
    if (!support.available) return { netns: true, reason: `needs root, ip and nft (network namespaces): ${support.reason ?? 'unavailable'}` };
  }
  if (scenario.requires.includes('program')) {
    const missing = (scenario.programs ?? []).filter((p) => !host.hasProgram(p));
    if (missing.length > 0) return { netns: false, reason: `needs ${missing.map((p) => `\`${p}\``).join(', ')} on PATH` };
  }
  return undefined;
}
