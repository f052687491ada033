import { describe, expect, it } from 'vitest';
import { SessionGate } from './session-gate.js';

describe('SessionGate', () => {
  it('hands a transfer the live session, or the next one once the agent is welcomed again', async () => {
    const gate = new SessionGate();
    const never = new AbortController().signal;
    gate.open('s1');
    expect(await gate.wait(never, Date.now() + 60_000)).toBe('s1');
    gate.close();
    const waiting = gate.wait(never, Date.now() + 60_000);
    gate.open('s2');
    expect(await waiting).toBe('s2');
  });

  it('tells a refusal of an ended session from a refusal of the live one', () => {
    const gate = new SessionGate();
    gate.open('s1');
    expect(gate.outlived('s1')).toBe(false);
    gate.close();
    expect(gate.outlived('s1')).toBe(true);
    gate.open('s2');
    expect(gate.outlived('s1')).toBe(true);
  });

  it('gives up at the deadline or when the task is aborted', async () => {
    const gate = new SessionGate();
    await expect(gate.wait(new AbortController().signal, Date.now() + 20)).rejects.toThrow(/did not come back before the round's deadline/);
    const abort = new AbortController();
    const waiting = gate.wait(abort.signal, Date.now() + 60_000);
    abort.abort(new Error('round 3 closed'));
    await expect(waiting).rejects.toThrow('round 3 closed');
  });
});
