/**
 * One NIfTI-1/-2 file (.nii or .nii.gz) to a volume of scaled values, read with nifti-reader-js.
 * Voxels keep their stored order (x fastest, then y, then z), so slice z is rows = y, columns = x;
 * nothing is reoriented, and an image and its mask, stored alike, stay aligned.
 */
import * as nifti from 'nifti-reader-js';

export interface NiftiVolume {
  /** Voxels along x, y, z (1 where the file has fewer dimensions). */
  readonly dims: readonly [number, number, number];
  /** Values after scl_slope / scl_inter, in stored order. */
  readonly values: Float32Array;
}

export type NiftiResult = { ok: true; volume: NiftiVolume } | { ok: false; reason: string };

type Reader = (view: DataView, at: number, little: boolean) => number;

const TYPES: Record<number, { bytes: number; read: Reader }> = {
  2: { bytes: 1, read: (v, at) => v.getUint8(at) },
  256: { bytes: 1, read: (v, at) => v.getInt8(at) },
  4: { bytes: 2, read: (v, at, le) => v.getInt16(at, le) },
  512: { bytes: 2, read: (v, at, le) => v.getUint16(at, le) },
  8: { bytes: 4, read: (v, at, le) => v.getInt32(at, le) },
  768: { bytes: 4, read: (v, at, le) => v.getUint32(at, le) },
  16: { bytes: 4, read: (v, at, le) => v.getFloat32(at, le) },
  64: { bytes: 8, read: (v, at, le) => v.getFloat64(at, le) },
};

export function decodeNifti(bytes: Uint8Array): NiftiResult {
  try {
    let buffer: ArrayBuffer = bytes.slice().buffer;
    if (nifti.isCompressed(buffer)) buffer = nifti.decompress(buffer) as ArrayBuffer;
    if (!nifti.isNIFTI(buffer)) return { ok: false, reason: 'not a NIfTI-1 or NIfTI-2 file (no n+1/n+2 magic in its header); convert it to .nii or .nii.gz' };
    const header = nifti.readHeader(buffer);
    const ndim = header.dims[0] ?? 0;
    if (ndim < 2 || ndim > 7) return { ok: false, reason: `its header gives ${ndim} dimensions; a NIfTI image has 2 to 7` };
    const size = (i: number) => (i <= ndim ? Math.max(1, header.dims[i] ?? 1) : 1);
    const extra = [4, 5, 6, 7].map(size).reduce((a, b) => a * b, 1);
    if (extra > 1) return { ok: false, reason: `it is a ${ndim}-D volume (${header.dims.slice(1, ndim + 1).join(' x ')}); only 2-D and 3-D volumes are sliced, so split the series into 3-D files (for example: fslsplit)` };
    const type = TYPES[header.datatypeCode];
    if (!type) return { ok: false, reason: `its voxel type (NIfTI datatype ${header.datatypeCode}) is not supported; use uint8/16/32, int8/16/32, float32 or float64` };
    const dims = [size(1), size(2), size(3)] as const;
    const count = dims[0] * dims[1] * dims[2];
    const data = nifti.readImage(header, buffer);
    if (data.byteLength < count * type.bytes) {
      return { ok: false, reason: `truncated: ${dims.join(' x ')} voxels need ${count * type.bytes} bytes of data but the file holds ${data.byteLength}` };
    }
    const view = new DataView(data);
    // A zero (or non-finite) slope means "no scaling" in NIfTI.
    const scaled = Number.isFinite(header.scl_slope) && header.scl_slope !== 0;
    const slope = scaled ? header.scl_slope : 1;
    const inter = scaled && Number.isFinite(header.scl_inter) ? header.scl_inter : 0;
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = type.read(view, i * type.bytes, header.littleEndian) * slope + inter;
    return { ok: true, volume: { dims, values } };
  } catch (err) {
    return { ok: false, reason: `not a readable NIfTI file (${(err as Error).message}); it is corrupt or truncated` };
  }
}
