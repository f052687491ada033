import { endianness } from 'node:os';
import { InvalidUpdateError } from './errors.js';
import type { TensorSpec } from './messages.js';

/**
 * Format 1 of tensor bytes: the tensors of a manifest, float32 little-endian, packed back to back
 * in manifest order with no padding. Offsets are explicit in each spec so a reader never has to
 * recompute them, and a writer cannot silently disagree with a reader.
 */

export interface TensorShape {
  name: string;
  shape: number[];
  dtype: string;
}

if (endianness() !== 'LE') {
  // Typed-array views are native-endian; every machine Medley targets is little-endian.
  throw new Error('Medley needs a little-endian machine: tensor bytes on the wire are little-endian');
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Lays tensors out back to back and returns their specs with offsets and total size. */
export function layoutTensors(tensors: readonly TensorShape[]): { specs: TensorSpec[]; totalBytes: number } {
  let offset = 0;
  const specs = tensors.map((t) => {
    if (t.dtype !== 'float32') throw new InvalidUpdateError(`tensor ${t.name} has dtype ${t.dtype}; only float32 is supported`);
    const byteLength = elementCount(t.shape) * 4;
    const spec: TensorSpec = { name: t.name, shape: [...t.shape], dtype: t.dtype, offset, byteLength };
    offset += byteLength;
    return spec;
  });
  return { specs, totalBytes: offset };
}

/**
 * Checks that an incoming manifest describes exactly the expected tensors (same names, order,
 * shapes, dtypes and offsets). Returns a message naming the first difference, or null.
 */
export function describeMismatch(expected: readonly TensorSpec[], actual: readonly TensorSpec[]): string | null {
  if (expected.length !== actual.length) {
    return `expected ${expected.length} tensors, got ${actual.length}`;
  }
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual[i]!;
    if (e.name !== a.name) return `tensor ${i} is named ${a.name}, expected ${e.name}`;
    if (e.dtype !== a.dtype) return `tensor ${e.name} has dtype ${a.dtype}, expected ${e.dtype}`;
    if (e.shape.length !== a.shape.length || e.shape.some((d, j) => d !== a.shape[j])) {
      return `tensor ${e.name} has shape [${a.shape.join(',')}], expected [${e.shape.join(',')}]`;
    }
    if (e.offset !== a.offset || e.byteLength !== a.byteLength) {
      return `tensor ${e.name} is at bytes ${a.offset}+${a.byteLength}, expected ${e.offset}+${e.byteLength}`;
    }
  }
  return null;
}

/** Bytes of a float32 array (a view, not a copy). */
export function float32Bytes(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}
