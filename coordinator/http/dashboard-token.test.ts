import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DashboardAuth, dashboardToken } from './dashboard-token.js';

const key = new Uint8Array(32).map((_, i) => i * 7);

describe('the dashboard token', () => {
  it('is HMAC-SHA256 of a fixed purpose under the admin key, so only the admin key holder can print it', () => {
    const expected = createHmac('sha256', key).update('medley-dashboard-read-v1').digest('base64url');
    expect(dashboardToken(key)).toBe(`mdr1_${expected}`);
    expect(dashboardToken(key.map((b) => b ^ 1))).not.toBe(dashboardToken(key));
  });

  it('opens the dashboard only as `Bearer <token>`', () => {
    const auth = new DashboardAuth(key);
    const token = dashboardToken(key);
    expect(auth.allows(`Bearer ${token}`)).toBe(true);
    expect(auth.allows(`bearer ${token}`)).toBe(true);
    for (const wrong of [undefined, '', token, `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, `Basic ${token}`, 'Bearer ', `Bearer ${dashboardToken(key.map((b) => b ^ 1))}`]) {
      expect(auth.allows(wrong), String(wrong)).toBe(false);
    }
  });
});
