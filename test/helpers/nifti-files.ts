/**
 * NIfTI-1 files written byte by byte from the format's header layout (nifti1.h), so the reader is
 * checked against files it had no part in making.
 */
import { gzipSync } from 'node:zlib';

export type NiftiType = 'uint8' | 'int16' | 'float32';

const CODES: Record<NiftiType, { code: number; bytes: number }> = {
  uint8: { code: 2, bytes: 1 },
  int16: { code: 4, bytes: 2 },
  float32: { code: 16, bytes: 4 },
};

export interface NiftiSpec {
  /** dim[1..]: x, y, z (and t for a 4-D file). */
  dims: number[];
  type: NiftiType;
  /** Stored values, x fastest. */
  values: ArrayLike<number>;
  slope?: number;
  inter?: number;
  gzip?: boolean;
}

export function niftiFile(spec: NiftiSpec): Uint8Array {
  const { code, bytes } = CODES[spec.type];
  const count = spec.dims.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(352 + count * bytes);
  const v = new DataView(out.buffer);
  v.setInt32(0, 348, true);
  v.setInt16(40, spec.dims.length, true);
  spec.dims.forEach((d, i) => v.setInt16(42 + 2 * i, d, true));
  for (let i = spec.dims.length; i < 7; i++) v.setInt16(42 + 2 * i, 1, true);
  v.setInt16(70, code, true);
  v.setInt16(72, bytes * 8, true);
  for (let i = 0; i < 8; i++) v.setFloat32(76 + 4 * i, 1, true);
  v.setFloat32(108, 352, true);
  v.setFloat32(112, spec.slope ?? 0, true);
  v.setFloat32(116, spec.inter ?? 0, true);
  out.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  for (let i = 0; i < count; i++) {
    const at = 352 + i * bytes;
    const x = spec.values[i]!;
    if (spec.type === 'uint8') v.setUint8(at, x);
    else if (spec.type === 'int16') v.setInt16(at, x, true);
    else v.setFloat32(at, x, true);
  }
  return spec.gzip ? new Uint8Array(gzipSync(out)) : out;
}
