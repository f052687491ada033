import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../../shared/model/backend.js';
import { encodeMask, flatSize } from '../../shared/model/trainable-mask.js';
import { buildModel } from '../../shared/model/zoo.js';
import { tgdMaskOf } from './tgd-task.js';

describe('TGD task payload at the agent', () => {
  beforeAll(async () => {
    await selectBackend();
  });

  it('returns no mask for other methods and the decoded mask for tgd', () => {
    const model = buildModel({ arch: 'cnn-small', inputShape: [16, 16, 1], classes: 2 }, 1);
    const elements = new Uint8Array(flatSize(model));
    elements[5] = 1;
    expect(tgdMaskOf({ method: 'fedavg', methodPayload: encodeMask({ elements }), round: 1 }, model)).toBeUndefined();
    expect(tgdMaskOf({ method: 'TGD', methodPayload: encodeMask({ elements }), round: 1 }, model)!.elements[5]).toBe(1);
    model.dispose();
  });

  it('fails the task with the reason for a missing, empty, foreign or cut mask', () => {
    const model = buildModel({ arch: 'cnn-small', inputShape: [16, 16, 1], classes: 2 }, 1);
    const other = buildModel({ arch: 'cnn-small', inputShape: [16, 16, 1], classes: 3 }, 1);
    const open = new Uint8Array(flatSize(other)).fill(1);
    expect(() => tgdMaskOf({ method: 'tgd', methodPayload: new Uint8Array(0), round: 4 }, model)).toThrow(/TGD task of round 4 carries no mask/);
    expect(() => tgdMaskOf({ method: 'tgd', methodPayload: encodeMask({ elements: new Uint8Array(flatSize(model)) }), round: 4 }, model)).toThrow(/freezes every weight/);
    expect(() => tgdMaskOf({ method: 'tgd', methodPayload: encodeMask({ elements: open }), round: 4 }, model)).toThrow(/TGD mask of round 4 covers \d+ weights, the model has \d+/);
    const cut = encodeMask({ elements: new Uint8Array(flatSize(model)).fill(1) }).subarray(0, 20);
    expect(() => tgdMaskOf({ method: 'tgd', methodPayload: cut, round: 4 }, model)).toThrow(/truncated or padded/);
    model.dispose();
    other.dispose();
  });
});
