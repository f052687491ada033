/**
 * Parser for NumPy's .npy format (versions 1, 2 and 3), enough to read image datasets saved
 * with np.save / np.savez: little-endian numeric and boolean dtypes in C order.
 * Format reference: numpy/lib/format.py.
 */

export type NpyDtype =
  | 'bool'
  | 'uint8'
  | 'int8'
  | 'uint16'
  | 'int16'
  | 'uint32'
  | 'int32'
  | 'uint64'
  | 'int64'
  | 'float32'
  | 'float64';

export type NpyData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | BigUint64Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

export interface NpyArray {
  /** Normalised element type (booleans are stored one byte each, 0 or 1, in a Uint8Array). */
  readonly dtype: NpyDtype;
  readonly shape: number[];
  /** Elements in C (row-major) order; its own buffer, safe to keep. */
  readonly data: NpyData;
}

interface DtypeInfo {
  dtype: NpyDtype;
  size: number;
  make: (buffer: ArrayBuffer) => NpyData;
}

/** Keyed by descr without its byte-order character; single-byte types accept any order mark. */
const DTYPES: Record<string, DtypeInfo> = {
  b1: { dtype: 'bool', size: 1, make: (b) => new Uint8Array(b) },
  u1: { dtype: 'uint8', size: 1, make: (b) => new Uint8Array(b) },
  i1: { dtype: 'int8', size: 1, make: (b) => new Int8Array(b) },
  u2: { dtype: 'uint16', size: 2, make: (b) => new Uint16Array(b) },
  i2: { dtype: 'int16', size: 2, make: (b) => new Int16Array(b) },
  u4: { dtype: 'uint32', size: 4, make: (b) => new Uint32Array(b) },
  i4: { dtype: 'int32', size: 4, make: (b) => new Int32Array(b) },
  u8: { dtype: 'uint64', size: 8, make: (b) => new BigUint64Array(b) },
  i8: { dtype: 'int64', size: 8, make: (b) => new BigInt64Array(b) },
  f4: { dtype: 'float32', size: 4, make: (b) => new Float32Array(b) },
  f8: { dtype: 'float64', size: 8, make: (b) => new Float64Array(b) },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

/** Typed arrays read the platform's byte order; .npy little-endian data is only valid as-is on little-endian hosts. */
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Parses one .npy file. `name` identifies it in errors (e.g. "scans.npz: train_images"), since a
 * person reading the message needs to know which file and which array is at fault.
 */
export function parseNpy(bytes: Uint8Array, name: string): NpyArray {
  const fail = (why: string, fix: string): never => {
    throw new Error(`${name}: ${why}. ${fix}`);
  };
  const regenerate = 'Re-create it with numpy.save / numpy.savez, or re-download the dataset';
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) {
    fail('not a .npy array (missing the \\x93NUMPY magic bytes)', regenerate);
  }
  const major = bytes[6];
  let headerLen: number;
  let headerStart: number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated .npy header', regenerate);
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    return fail(`unsupported .npy format version ${major}.${bytes[7]}`, 'Save it with a NumPy that writes format version 1, 2 or 3');
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) fail(`truncated .npy header (needs ${dataStart} bytes, file has ${bytes.length})`, regenerate);
  // v1/v2 headers are latin-1, v3 UTF-8; the keys we read are ASCII either way.
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));

  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(header)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    return fail(`unreadable .npy header ${JSON.stringify(header.trim())}`, regenerate);
  }
  if (fortran === 'True') {
    fail('array is stored in Fortran (column-major) order, which is not supported', 'Save numpy.ascontiguousarray(arr) instead');
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const d = Number(s.replace(/L$/, ''));
      if (!Number.isSafeInteger(d) || d < 0) fail(`invalid dimension "${s}" in shape (${shapeText})`, regenerate);
      return d;
    });

  const order = descr[0];
  const info = DTYPES[descr.slice(1)];
  if (info === undefined || !'<>|='.includes(order)) {
    return fail(
      `unsupported dtype '${descr}'`,
      "Supported: bool, uint8/int8, (u)int16/32/64, float32, float64, little-endian; convert with arr.astype('<f4') or similar",
    );
  }
  if (order === '>' && info.size > 1) {
    fail(`array is big-endian ('${descr}'), which is not supported`, `Convert it with arr.astype('<${descr.slice(1)}')`);
  }
  if (!HOST_LITTLE_ENDIAN && info.size > 1) fail('this machine is big-endian; .npy loading assumes little-endian', 'Run on a little-endian host');

  const count = shape.reduce((a, b) => a * b, 1);
  const need = count * info.size;
  const have = bytes.length - dataStart;
  if (have < need) {
    fail(`truncated data: shape (${shape.join(', ')}) of ${info.dtype} needs ${need} bytes but only ${have} are present`, regenerate);
  }
  if (have > need) {
    fail(`${have - need} unexpected bytes after the data for shape (${shape.join(', ')}) of ${info.dtype}`, regenerate);
  }
  // Copy into a fresh buffer: the source may be unaligned for the element size, and callers
  // should not keep the whole archive alive through a view.
  const buffer = bytes.slice(dataStart, dataStart + need).buffer;
  return { dtype: info.dtype, shape, data: info.make(buffer) };
}

/** Element i as a JS number (64-bit integers are converted, exact up to 2^53). */
export function npyNumber(arr: NpyArray, i: number): number {
  return Number(arr.data[i]);
}

/** Builds .npy (v1) bytes; used by tests and tools that write arrays for Python to read. */
export function encodeNpy(descr: string, shape: number[], data: Uint8Array): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  // Pad with spaces so data starts on a 64-byte boundary, ending with a newline, as NumPy does.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(data, 10 + header.length);
  return out;
}
