import diagnosticsChannel from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { channelName, publisher } from './diagnostics.js';

describe('diagnostics channels', () => {
  it('are named breakwater:<package>:<event>', () => {
    expect(channelName('pool', 'acquireTimeout')).toBe('breakwater:pool:acquireTimeout');
    expect(() => channelName('Pool', 'x')).toThrow(expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'package' } }));
    expect(() => channelName('pool', 'acquire-timeout')).toThrow(expect.objectContaining({ details: { key: 'event' } }));
  });

  it('publish to subscribers only', () => {
    const seen: unknown[] = [];
    const listener = (m: unknown) => seen.push(m);
    const publish = publisher('core');
    publish('tested', { n: 0 });
    diagnosticsChannel.subscribe('breakwater:core:tested', listener);
    try {
      publish('tested', { n: 1 });
    } finally {
      diagnosticsChannel.unsubscribe('breakwater:core:tested', listener);
    }
    publish('tested', { n: 2 });
    expect(seen).toEqual([{ n: 1 }]);
  });
});
