import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeNpy, npyNumber, parseNpy } from './npy.js';
import { getArray, parseNpz, readNpz } from './npz.js';

const dir = mkdtempSync(join(tmpdir(), 'medley-npz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** A .npy with an arbitrary header version, for the v2/v3 cases encodeNpy does not write. */
function npyWithVersion(major: number, header: string, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(header + '\n');
  const pre = major === 1 ? 10 : 12;
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, h.length, true);
  else dv.setUint32(8, h.length, true);
  out.set(h, pre);
  out.set(data, pre + h.length);
  return out;
}

const arrays = {
  u1: encodeNpy('|u1', [2, 3], Uint8Array.from([0, 1, 2, 253, 254, 255])),
  lu1: encodeNpy('<u1', [3], Uint8Array.from([7, 8, 9])),
  i4: encodeNpy('<i4', [2, 2], bytesOf(Int32Array.from([-1, 0, 5, 2147483647]))),
  i8: encodeNpy('<i8', [3, 1], bytesOf(BigInt64Array.from([0n, -3n, 9007199254740991n]))),
  f4: encodeNpy('<f4', [2, 2, 1], bytesOf(Float32Array.from([0.5, -1.25, 3e-8, 1e30]))),
  f8: encodeNpy('<f8', [2], bytesOf(Float64Array.from([Math.PI, -0.1]))),
  b1: encodeNpy('|b1', [4], Uint8Array.from([1, 0, 0, 1])),
  scalar: encodeNpy('<i4', [], bytesOf(Int32Array.from([42]))),
};

function npzBytes(level: 0 | 6, entries: Record<string, Uint8Array> = arrays): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(entries)) files[`${k}.npy`] = v;
  return zipSync(files, { level });
}

describe('readNpz', () => {
  for (const level of [0, 6] as const) {
    it(`reads every dtype from a ${level === 0 ? 'stored' : 'deflated'} archive`, () => {
      const path = join(dir, `all-${level}.npz`);
      writeFileSync(path, npzBytes(level));
      const m = readNpz(path);
      expect([...m.keys()].sort()).toEqual(Object.keys(arrays).sort());

      expect(m.get('u1')).toMatchObject({ dtype: 'uint8', shape: [2, 3] });
      expect([...m.get('u1')!.data]).toEqual([0, 1, 2, 253, 254, 255]);
      expect([...m.get('lu1')!.data]).toEqual([7, 8, 9]);
      expect(m.get('i4')).toMatchObject({ dtype: 'int32', shape: [2, 2] });
      expect([...m.get('i4')!.data]).toEqual([-1, 0, 5, 2147483647]);
      const i8 = m.get('i8')!;
      expect(i8).toMatchObject({ dtype: 'int64', shape: [3, 1] });
      expect([0, 1, 2].map((i) => npyNumber(i8, i))).toEqual([0, -3, 9007199254740991]);
      expect(m.get('f4')!.data).toEqual(Float32Array.from([0.5, -1.25, 3e-8, 1e30]));
      expect(m.get('f8')!.data).toEqual(Float64Array.from([Math.PI, -0.1]));
      expect(m.get('b1')).toMatchObject({ dtype: 'bool', shape: [4] });
      expect([...m.get('b1')!.data]).toEqual([1, 0, 0, 1]);
      expect(m.get('scalar')).toMatchObject({ shape: [] });
      expect([...m.get('scalar')!.data]).toEqual([42]);
    });
  }

  it('decompresses only the requested arrays', () => {
    const m = parseNpz(npzBytes(6), 'x.npz', ['f8', 'u1']);
    expect([...m.keys()].sort()).toEqual(['f8', 'u1']);
  });

  it('names the file and lists contents for a missing array', () => {
    const m = parseNpz(npzBytes(0, { a: arrays.u1, b: arrays.f8 }), 'scans.npz');
    expect(() => getArray(m, 'train_images', 'scans.npz')).toThrow(/scans\.npz: missing array 'train_images' \(the file has: a, b\)/);
  });

  it('reports a corrupt or truncated archive', () => {
    const good = npzBytes(6);
    expect(() => parseNpz(good.subarray(0, good.length - 30), 'cut.npz')).toThrow(/cut\.npz: not a readable \.npz archive.*corrupt or truncated/);
    const garbage = new Uint8Array(200).fill(7);
    expect(() => parseNpz(garbage, 'junk.npz')).toThrow(/junk\.npz: not a readable \.npz/);
  });

  it('reports a missing file', () => {
    expect(() => readNpz(join(dir, 'nope.npz'))).toThrow(/cannot read .*nope\.npz/);
  });

  it('reports an array whose data is cut short, naming file and array', () => {
    const short = arrays.f8.subarray(0, arrays.f8.length - 3);
    expect(() => parseNpz(npzBytes(0, { val_images: short }), 'data/med.npz')).toThrow(
      /med\.npz: array 'val_images': truncated data: shape \(2\) of float64 needs 16 bytes but only 13 are present/,
    );
  });
});

describe('parseNpy', () => {
  const f4 = bytesOf(Float32Array.from([1, 2, 3, 4, 5, 6]));

  it('reads version 2 and 3 headers', () => {
    const header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    for (const v of [2, 3]) {
      const arr = parseNpy(npyWithVersion(v, header, f4), 'x');
      expect(arr.shape).toEqual([2, 3]);
      expect([...arr.data]).toEqual([1, 2, 3, 4, 5, 6]);
    }
  });

  it('rejects Fortran order, big-endian and unknown dtypes with a fix', () => {
    const fortran = npyWithVersion(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", f4);
    expect(() => parseNpy(fortran, 'a.npz: array \'x\'')).toThrow(/a\.npz: array 'x': .*Fortran.*ascontiguousarray/);
    const big = npyWithVersion(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", f4);
    expect(() => parseNpy(big, 'x')).toThrow(/big-endian.*astype\('<f4'\)/);
    const complex = npyWithVersion(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", f4);
    expect(() => parseNpy(complex, 'x')).toThrow(/unsupported dtype '<c8'/);
    const object = npyWithVersion(1, "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }", f4);
    expect(() => parseNpy(object, 'x')).toThrow(/unsupported dtype '\|O'/);
  });

  it('rejects non-npy bytes, broken headers and trailing garbage', () => {
    expect(() => parseNpy(new Uint8Array([1, 2, 3]), 'x')).toThrow(/not a \.npy array/);
    expect(() => parseNpy(arrays.u1.subarray(0, 20), 'x')).toThrow(/truncated \.npy header/);
    expect(() => parseNpy(npyWithVersion(1, '{garbage}', f4), 'x')).toThrow(/unreadable \.npy header/);
    const extra = new Uint8Array(arrays.lu1.length + 2);
    extra.set(arrays.lu1);
    expect(() => parseNpy(extra, 'x')).toThrow(/2 unexpected bytes/);
  });

  it('copies data so unaligned sources work', () => {
    const padded = new Uint8Array(arrays.f8.length + 1);
    padded.set(arrays.f8, 1);
    const arr = parseNpy(padded.subarray(1), 'x');
    expect(arr.data).toEqual(Float64Array.from([Math.PI, -0.1]));
  });
});
