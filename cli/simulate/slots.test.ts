import { describe, expect, it } from 'vitest';
import { SlotPool } from './slots.js';

describe('SlotPool', () => {
  it('never lets more than its size hold a slot, and serves waiters in order', async () => {
    const pool = new SlotPool(2);
    const signal = new AbortController().signal;
    const order: string[] = [];
    const a = await pool.acquire(signal);
    const b = await pool.acquire(signal);
    const c = pool.acquire(signal).then((release) => (order.push('c'), release));
    const d = pool.acquire(signal).then((release) => (order.push('d'), release));
    await Promise.resolve();
    expect(pool.inUse).toBe(2);
    expect(order).toEqual([]);
    a();
    a(); // releasing twice frees one slot only
    const releaseC = await c;
    expect(order).toEqual(['c']);
    expect(pool.inUse).toBe(2);
    b();
    (await d)();
    releaseC();
    expect(pool.inUse).toBe(0);
    expect(pool.peak).toBe(2);
  });

  it('drops a waiter whose signal aborts, with the signal\'s reason', async () => {
    const pool = new SlotPool(1);
    const release = await pool.acquire(new AbortController().signal);
    const cancel = new AbortController();
    const waiting = pool.acquire(cancel.signal);
    cancel.abort(new Error('round 3 closed'));
    await expect(waiting).rejects.toThrow('round 3 closed');
    const next = pool.acquire(new AbortController().signal);
    release();
    (await next)();
    expect(pool.inUse).toBe(0);
    expect(pool.peak).toBe(1);
    expect(() => new SlotPool(0)).toThrow(/at least one slot/);
  });
});
