import { describe, expect, it } from 'vitest';
import { colorEnabled, paint } from './output.js';

describe('colorEnabled', () => {
  it('colors a terminal unless NO_COLOR or TERM=dumb; FORCE_COLOR wins over no TTY', () => {
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colorEnabled({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(colorEnabled({}, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled({}, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(false);
    expect(paint({ color: false }, 'red', 'x')).toBe('x');
    expect(paint({ color: true }, 'red', 'x')).toBe('\u001b[31mx\u001b[0m');
  });
});
