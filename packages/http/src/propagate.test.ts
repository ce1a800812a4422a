import { describe, expect, it } from 'vitest';
import {
  currentInbound,
  inboundDeadline,
  isInternalHost,
  MAX_DEADLINE_HEADER_MS,
  parseDeadlineHeader,
  propagationHeaders,
  propagationPolicy,
} from './propagate.js';

describe('parseDeadlineHeader', () => {
  it('reads budgets; 0 and negatives are expired (0), never "none"', () => {
    expect(parseDeadlineHeader('1500')).toBe(1_500);
    expect(parseDeadlineHeader(' 12.6 ')).toBe(13);
    expect(parseDeadlineHeader('0')).toBe(0);
    expect(parseDeadlineHeader('-40')).toBe(0);
  });

  it('ignores garbage and caps absurd values', () => {
    for (const v of ['', 'soon', '1e3', '0x10', '12ms', 'NaN', 'Infinity']) expect(parseDeadlineHeader(v), v).toBeUndefined();
    expect(parseDeadlineHeader('99999999999999999999')).toBe(MAX_DEADLINE_HEADER_MS);
    expect(parseDeadlineHeader(undefined)).toBeUndefined();
  });

  it('takes the smallest of repeated values', () => {
    expect(parseDeadlineHeader(['900', 'junk', '300'])).toBe(300);
    // Two headers as Node's http server hands them over: joined with ", " (regression: read as garbage, no deadline).
    expect(parseDeadlineHeader('900, 300')).toBe(300);
    expect(parseDeadlineHeader('900,junk')).toBe(900);
    expect(parseDeadlineHeader('0, 900')).toBe(0);
  });
});

describe('propagation', () => {
  it('internal hosts: private and loopback addresses, single labels, mesh suffixes; not public names', () => {
    for (const h of ['10.1.2.3', '127.0.0.1', '172.20.0.1', '192.168.1.1', '[::1]', 'fd00::1', 'users', 'users.internal', 'db.svc.cluster.local', 'x.test']) {
      expect(isInternalHost(h), h).toBe(true);
    }
    for (const h of ['8.8.8.8', '172.32.0.1', 'api.stripe.com', 'example.org', '2001:db8::1']) expect(isInternalHost(h), h).toBe(false);
  });

  it('policies: boolean, list of hosts and suffixes, function; bad values name the option', () => {
    expect(propagationPolicy(false)('http://users')).toBe(false);
    expect(propagationPolicy(true)('https://api.stripe.com')).toBe(true);
    const listed = propagationPolicy(['.corp.example', 'billing.example.com']);
    expect(listed('http://a.corp.example:8080')).toBe(true);
    expect(listed('https://billing.example.com')).toBe(true);
    expect(listed('https://api.example.com')).toBe(false);
    expect(propagationPolicy((u: URL) => u.port === '81')('http://x.com:81')).toBe(true);
    expect(() => propagationPolicy('everywhere')).toThrow(/`propagate`/);
    expect(() => propagationPolicy([''])).toThrow(/`propagate`/);
  });

  it('propagationHeaders sends the time left on the deadline captured at the first call', async () => {
    const req = { headers: { 'x-breakwater-deadline-ms': '1000', 'x-breakwater-retry': '2' } };
    const first = propagationHeaders(req);
    expect(first['x-breakwater-retry']).toBe('2');
    expect(Number(first['x-breakwater-deadline-ms'])).toBeGreaterThanOrEqual(995);
    await new Promise((r) => setTimeout(r, 120));
    expect(Number(propagationHeaders(req)['x-breakwater-deadline-ms'])).toBeLessThanOrEqual(885);
  });

  it('inboundDeadline() makes the request the ambient context, across awaits', async () => {
    const req = { headers: { 'x-breakwater-deadline-ms': '5000' } };
    let seen: unknown;
    await new Promise<void>((resolve) =>
      inboundDeadline()(req, {}, async () => {
        await new Promise((r) => setTimeout(r, 5));
        seen = currentInbound()?.expiresAt;
        resolve();
      }),
    );
    expect(typeof seen).toBe('number');
    expect(currentInbound()).toBeUndefined();
  });
});
