import diagnosticsChannel from 'node:diagnostics_channel';
import { BreakwaterError } from './BreakwaterError.js';

const PACKAGE_RE = /^[a-z][a-z0-9-]*$/;
const EVENT_RE = /^[a-z][A-Za-z0-9]*$/;

/** `breakwater:<package>:<event>`, as undici names its `undici:*` channels. */
export function channelName(pkg: string, event: string): string {
  if (!PACKAGE_RE.test(pkg) || !EVENT_RE.test(event)) {
    throw new BreakwaterError(
      'BW_ERR_INVALID_OPTION',
      `Expected \`package\` and \`event\` to look like 'pool' and 'acquireTimeout', got '${pkg}', '${event}'`,
      {
        details: { key: PACKAGE_RE.test(pkg) ? 'event' : 'package' },
      },
    );
  }
  return `breakwater:${pkg}:${event}`;
}

/** The channel for `breakwater:<pkg>:<event>`; subscribe with `diagnostics_channel.subscribe(name, fn)`. */
export function channel(pkg: string, event: string): diagnosticsChannel.Channel {
  return diagnosticsChannel.channel(channelName(pkg, event));
}

/**
 * A publisher bound to one package. Publishing costs one property read when
 * nobody subscribes, so it can sit on hot paths.
 *
 * @example
 * const publish = publisher('pool');
 * publish('acquireTimeout', { key, waitedMs });
 */
export function publisher(pkg: string): (event: string, message: object) => void {
  const channels = new Map<string, diagnosticsChannel.Channel>();
  return (event, message) => {
    let ch = channels.get(event);
    if (ch === undefined) {
      ch = channel(pkg, event);
      channels.set(event, ch);
    }
    if (ch.hasSubscribers) ch.publish(message);
  };
}
