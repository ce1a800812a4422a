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
