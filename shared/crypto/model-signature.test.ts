import { beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity, type Identity } from './keys.js';
import { signModel, verifyModel, type ModelClaim } from './model-signature.js';
import { loadSodium } from './sodium.js';

let coordinator: Identity;
let other: Identity;

const claim: ModelClaim = {
  federation: 'fed-chest-xray',
  version: 4,
  sha256: 'a'.repeat(64),
  totalBytes: 60,
  topologyJson: '{"class_name":"Sequential","config":{"layers":[]}}',
  specJson: '{"inputShape":[4],"classes":3}',
  tensors: [
    { name: 'dense/kernel', shape: [4, 3], dtype: 'float32', offset: 0, byteLength: 48 },
    { name: 'dense/bias', shape: [3], dtype: 'float32', offset: 48, byteLength: 12 },
  ],
};

beforeAll(async () => {
  await loadSodium();
  coordinator = await generateIdentity('coordinator');
  other = await generateIdentity('other');
});

const withTensor = (i: number, change: Partial<ModelClaim['tensors'][number]>): ModelClaim => ({
  ...claim,
  tensors: claim.tensors.map((t, j) => (j === i ? { ...t, ...change } : t)),
});

describe('model signature', () => {
  it('verifies a claim signed by the coordinator, including a deep copy of it', () => {
    const signature = signModel(coordinator, claim);
    expect(signature.byteLength).toBe(64);
    expect(verifyModel(coordinator.signPublicKey, claim, signature)).toBe(true);
    expect(verifyModel(coordinator.signPublicKey, structuredClone(claim) as ModelClaim, signature)).toBe(true);
  });

  it('fails when any field of the claim is changed', () => {
    const signature = signModel(coordinator, claim);
    const changed: [string, ModelClaim][] = [
      ['federation', { ...claim, federation: 'fed-ct' }],
      ['version', { ...claim, version: 5 }],
      ['sha256', { ...claim, sha256: 'b' + 'a'.repeat(63) }],
      ['totalBytes', { ...claim, totalBytes: 61 }],
      ['topologyJson', { ...claim, topologyJson: claim.topologyJson.replace('[]', '[{}]') }],
      ['specJson', { ...claim, specJson: '{"inputShape":[4],"classes":2}' }],
      ['tensor name', withTensor(0, { name: 'dense/kernel2' })],
      ['tensor dtype', withTensor(0, { dtype: 'int32' })],
      ['tensor shape', withTensor(0, { shape: [3, 4] })],
      ['tensor shape split', withTensor(0, { shape: [4, 3, 1] })],
      ['tensor offset', withTensor(1, { offset: 52 })],
      ['tensor byteLength', withTensor(1, { byteLength: 16 })],
      ['tensors reordered', { ...claim, tensors: [claim.tensors[1], claim.tensors[0]] }],
      ['tensor dropped', { ...claim, tensors: [claim.tensors[0]] }],
      ['tensor added', { ...claim, tensors: [...claim.tensors, { name: 'x', shape: [1], dtype: 'float32', offset: 60, byteLength: 4 }] }],
      ['topology and spec swapped', { ...claim, topologyJson: claim.specJson, specJson: claim.topologyJson }],
    ];
    for (const [what, c] of changed) {
      expect(verifyModel(coordinator.signPublicKey, c, signature), what).toBe(false);
    }
  });

  it('fails with another key or a damaged signature', () => {
    const signature = signModel(coordinator, claim);
    expect(verifyModel(other.signPublicKey, claim, signature)).toBe(false);
    expect(verifyModel(coordinator.signPublicKey, claim, signModel(other, claim))).toBe(false);
    const bad = new Uint8Array(signature);
    bad[0] ^= 0x80;
    expect(verifyModel(coordinator.signPublicKey, claim, bad)).toBe(false);
  });
});
