import { mkdtemp, mkdir, readdir, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layoutTensors } from '../../shared/wire/index.js';
import { ModelStore } from './model-store.js';

const { specs, totalBytes } = layoutTensors([{ name: 'w', shape: [4], dtype: 'float32' }]);
const meta = { parent: null, round: null, spec: {}, topology: {}, tensors: specs, totalBytes };

async function fresh(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'medley-store-'));
}

describe('ModelStore', () => {
  it('writes numbered versions with a manifest and verifies their checksum', async () => {
    const dir = await fresh();
    const store = await ModelStore.open(dir);
    const m1 = await store.writeNext(meta, [new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer)]);
    const m2 = await store.writeNext({ ...meta, parent: 1, round: 1 }, [new Uint8Array(8), new Uint8Array(8)]);
    expect([m1.version, m2.version]).toEqual([1, 2]);
    expect(m1.sha256).toMatch(/^[0-9a-f]{64}$/);
    const reopened = await ModelStore.open(dir);
    expect(reopened.latest).toBe(2);
    await reopened.verify(1);
    expect((await reopened.manifest(2)).parent).toBe(1);
  });

  it('answers for every version after many rounds, reading old manifests from disk again', async () => {
    const store = await ModelStore.open(await fresh());
    const written = [];
    for (let round = 0; round < 20; round++) {
      written.push(await store.writeNext({ ...meta, parent: round || null, round: round || null }, [new Uint8Array(Float32Array.from([round, 0, 0, 0]).buffer)]));
    }
    for (const m of written) {
      const again = await store.manifest(m.version);
      expect(again.sha256).toBe(m.sha256);
      expect(again.createdAt).toBe(m.createdAt);
    }
    await store.verify(1);
  });

  it('never shows a version whose bytes do not add up, and sweeps leftovers of a crash', async () => {
    const dir = await fresh();
    const store = await ModelStore.open(dir);
    await expect(store.writeNext(meta, [new Uint8Array(12)])).rejects.toThrow(/got 12 weight bytes, expected 16/);
    expect(store.latest).toBe(0);
    await mkdir(join(dir, 'models', '.v000001.tmp-999'), { recursive: true });
    await writeFile(join(dir, 'models', '.v000001.tmp-999', 'weights.bin'), 'half');
    const reopened = await ModelStore.open(dir);
    expect(reopened.latest).toBe(0);
    expect(await readdir(join(dir, 'models'))).toEqual([]);
  });

  it('detects a weights file changed on disk', async () => {
    const dir = await fresh();
    const store = await ModelStore.open(dir);
    await store.writeNext(meta, [new Uint8Array(16)]);
    const path = store.weightsPath(1);
    const bytes = await readFile(path);
    bytes[3] = 7;
    await writeFile(path, bytes);
    await expect((await ModelStore.open(dir)).verify(1)).rejects.toThrow(/restore from a backup/);
  });

  it('names a corrupt manifest', async () => {
    const dir = await fresh();
    const store = await ModelStore.open(dir);
    await store.writeNext(meta, [new Uint8Array(16)]);
    await writeFile(join(dir, 'models', 'v000001', 'manifest.json'), '{"formatVersion": 1, "trunc');
    await expect(ModelStore.open(dir)).rejects.toThrow(/manifest.json is unreadable/);
  });
});
