import { Deadline } from '@breakwater/core';
import { describe, expect, it } from 'vitest';
import { validateSend } from './sendInput.js';

describe('validateSend', () => {
  it('refuses a per-send deadline the servers would outlive: retransmits past their horizon could run the handler twice', () => {
    const far = Deadline.after(400_000);
    const near = Deadline.after(200_000);
    try {
      expect(() => validateSend('m', { deadline: far }, 1_024, 300_000)).toThrow(/`deadline` \(\d+ ms left\) to be below `serverDedupHorizonMs` \(300000\)/);
      expect(validateSend('m', { deadline: near }, 1_024, 300_000).deadline).toBe(near);
      expect(validateSend('m', {}, 1_024, 300_000).buf.toString()).toBe('m');
    } finally {
      far.dispose();
      near.dispose();
    }
  });
});

describe('validateSend deadlineMs', () => {
  it('takes a time limit in ms from now, not beside a Deadline, below the servers’ horizon, a positive integer', () => {
    expect(validateSend('m', { deadlineMs: 5_000 }, 1_024, 300_000)).toMatchObject({ deadline: undefined, deadlineMs: 5_000 });
    const d = Deadline.after(1_000);
    try {
      expect(() => validateSend('m', { deadline: d, deadlineMs: 1_000 }, 1_024)).toThrow(/one of `deadline` and `deadlineMs`, got both/);
    } finally {
      d.dispose();
    }
    expect(() => validateSend('m', { deadlineMs: 300_000 }, 1_024, 300_000)).toThrow(/`deadlineMs` \(300000 ms\) to be below `serverDedupHorizonMs`/);
    for (const bad of [0, -1, 1.5, '1000', Number.NaN, 2 ** 31]) {
      expect(() => validateSend('m', { deadlineMs: bad as number }, 1_024), String(bad)).toThrow(
        expect.objectContaining({ code: 'BW_ERR_INVALID_OPTION', details: expect.objectContaining({ key: 'deadlineMs' }) }),
      );
    }
  });
});
