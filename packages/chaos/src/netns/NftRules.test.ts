import { describe, expect, it } from 'vitest';
import { createNftRules } from './NftRules.js';

/** Plays nft: records each script and echoes `add rule` lines with handles, as `nft --echo --handle` does. */
function fakeNft() {
  const calls: { args: readonly string[]; input: string }[] = [];
  let handle = 10;
  const nft = async (args: readonly string[], input = '') => {
    calls.push({ args, input });
    if (!args.includes('--echo')) return '';
    return input
      .split('\n')
      .filter((l) => l.startsWith('add rule'))
      .map((l) => `${l} # handle ${handle++}`)
      .join('\n');
  };
  return { calls, nft };
}

describe('createNftRules', () => {
  it('blackholes a port in every chain, both directions, and removes exactly those rules', async () => {
    const { calls, nft } = fakeNft();
    const rules = createNftRules({ table: 'breakwater', nft });
    const rule = await rules.blackholePort(8080);
    const script = calls[0]?.input ?? '';
    expect(script).toContain('add table inet breakwater');
    for (const chain of ['input', 'output', 'forward']) {
      expect(script).toContain(`add rule inet breakwater ${chain} tcp dport 8080 drop`);
      expect(script).toContain(`add rule inet breakwater ${chain} tcp sport 8080 drop`);
    }
    await rule.remove();
    await rule.remove();
    expect(calls).toHaveLength(2);
    expect(calls[1]?.input.trim().split('\n')).toHaveLength(6);
    expect(calls[1]?.input).toContain('delete rule inet breakwater input handle 10');
  });

  it('scopes root-namespace rules to the topology’s veth and has no forward chain', async () => {
    const { calls, nft } = fakeNft();
    let created = 0;
    const rules = createNftRules({ table: 'bw_1_0', nft, scopeInterface: 'bw1-0cs', onCreate: () => created++ });
    await rules.dropSyn(443);
    await rules.loss(5);
    expect(created).toBe(1);
    const script = calls.map((c) => c.input).join('\n');
    expect(script).toContain('add rule inet bw_1_0 input iifname "bw1-0cs" tcp dport 443 tcp flags & (syn | ack) == syn drop');
    expect(script).toContain('add rule inet bw_1_0 input iifname "bw1-0cs" numgen random mod 100 < 5 drop');
    expect(script).not.toContain('forward');
  });

  it('drops ICMP unreachable generated and forwarded, and loss per port both ways', async () => {
    const { calls, nft } = fakeNft();
    const rules = createNftRules({ table: 'breakwater', nft });
    await rules.dropIcmpUnreachable();
    await rules.loss(30, 9000);
    const script = calls.map((c) => c.input).join('\n');
    expect(script).toContain('output icmp type destination-unreachable drop');
    expect(script).toContain('forward icmp type destination-unreachable drop');
    expect(script).toContain('input tcp dport 9000 numgen random mod 100 < 30 drop');
    expect(script).toContain('forward tcp sport 9000 numgen random mod 100 < 30 drop');
    await rules.loss(100, 9001);
    expect(calls.at(-1)?.input).toContain('input tcp dport 9001 drop');
    const none = await rules.loss(0);
    expect(calls.at(-1)?.input).not.toContain('add rule');
    await none.remove();
  });

  it('makes rules from before clear() no-ops', async () => {
    const { calls, nft } = fakeNft();
    const rules = createNftRules({ table: 'breakwater', nft });
    const rule = await rules.dropSyn(1);
    await rules.clear();
    expect(calls[1]?.input).toBe('add table inet breakwater\ndelete table inet breakwater\n');
    await rule.remove();
    expect(calls).toHaveLength(2);
  });

  it('validates ports and percentages', async () => {
    const rules = createNftRules({ table: 'breakwater', nft: fakeNft().nft });
    expect(() => rules.blackholePort(0)).toThrow(expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'port' } }));
    expect(() => rules.loss(101)).toThrow(expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: { key: 'percent' } }));
    expect(() => rules.loss(2.5)).toThrow(expect.objectContaining({ details: { key: 'percent' } }));
  });
});
