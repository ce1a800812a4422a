import { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { createClient } from './createClient.js';
import { withoutLayers } from './layerRoles.js';

describe('ownership and reuse', () => {
  it('close() leaves an injected dispatcher open: the caller made it, the caller closes it', async () => {
    const mock = new MockAgent();
    mock.disableNetConnect();
    mock.get('http://api.test').intercept({ path: '/a' }).reply(200, 'one').times(2);
    const first = createClient({ dispatcher: mock });
    expect(await (await first.request('http://api.test/a')).body.text()).toBe('one');
    await first.close();
    // Another client on the same MockAgent still works after the first one closed.
    const second = createClient({ dispatcher: mock });
    expect(await (await second.request('http://api.test/a')).body.text()).toBe('one');
    await second.close();
    await mock.close();
  });

  it('withoutLayers() removes by role and refuses a role that does not exist', async () => {
    const client = createClient({ layers: withoutLayers('circuit', 'balance') });
    expect(client.layers.map((l) => l.role)).toEqual(['deadline', 'retry', 'dns']);
    await client.close();
    expect(() => createClient({ layers: withoutLayers('circut') })).toThrow(/Unknown layer role `circut`.*did you mean `circuit`/);
    // A built-in role absent from this stack (no dns with an injected dispatcher) is not a typo.
    const mock = new MockAgent();
    const injected = createClient({ dispatcher: mock, layers: withoutLayers('dns') });
    expect(injected.layers.map((l) => l.role)).toEqual(['deadline', 'retry', 'circuit']);
    await injected.close();
    await mock.close();
  });
});
