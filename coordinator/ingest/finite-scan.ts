import type { TensorSpec } from '../../shared/wire/index.js';
import { addSquares } from './squares-kernel.js';

/**
 * Where unaligned chunks are copied to be read as float32 (every gRPC data chunk is unaligned: it
 * sits 9 bytes into its message). One for all scans: `feed` is synchronous, so they never overlap.
 */
let alignedScratch = new Float32Array(0);
/** The four running sums of one `feed`. */
const laneSums = new Float64Array(4);

/**
 * Scans a float32 byte stream as it arrives, whatever the chunk boundaries: finds the first
 * non-finite value (naming its tensor) and keeps the sum of squares for a norm bound.
 */
export class FiniteScan {
  private carry = Buffer.alloc(0);
  private position = 0; // element index of the next whole value
  private squares = 0;
  private firstBad: { element: number; value: number } | null = null;

  constructor(private readonly tensors: readonly TensorSpec[]) {}

  feed(bytes: Buffer): void {
    let data = bytes;
    if (this.carry.length > 0) {
      data = Buffer.concat([this.carry, bytes]);
    }
    const whole = data.length - (data.length % 4);
    this.carry = Buffer.from(data.subarray(whole));
    if (whole === 0) return;
    let values: Float32Array;
    if (data.byteOffset % 4 === 0) {
      values = new Float32Array(data.buffer, data.byteOffset, whole / 4);
    } else {
      // Copy into one reused buffer: allocating 1 MiB per chunk cost page faults on every chunk.
      if (alignedScratch.length < whole / 4) alignedScratch = new Float32Array(whole / 4);
      values = alignedScratch.subarray(0, whole / 4);
      new Uint8Array(values.buffer, 0, whole).set(data.subarray(0, whole));
    }
    // Four running sums: one would make every add wait for the previous one (~4x slower).
    // NaN or Infinity anywhere still makes the total non-finite. The SIMD kernel keeps the same
    // four sums in the same order (squares-kernel.ts), so the norm is the same either way.
    const n = values.length;
    const n4 = n - (n % 4);
    const lanes = laneSums.fill(0);
    if (!addSquares(values.subarray(0, n4), lanes)) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < n4; i += 4) {
        const a = values[i]!;
        const b = values[i + 1]!;
        const c = values[i + 2]!;
        const d = values[i + 3]!;
        s0 += a * a;
        s1 += b * b;
        s2 += c * c;
        s3 += d * d;
      }
      lanes.set([s0, s1, s2, s3]);
    }
    let s0 = lanes[0]!;
    for (let i = n4; i < n; i++) s0 += values[i]! * values[i]!;
    const squares = s0 + lanes[1]! + lanes[2]! + lanes[3]!;
    if (!Number.isFinite(squares) && this.firstBad === null) {
      for (let i = 0; i < values.length; i++) {
        if (!Number.isFinite(values[i]!)) {
          this.firstBad = { element: this.position + i, value: values[i]! };
          break;
        }
      }
    }
    this.squares += squares;
    this.position += values.length;
  }

  /** A message naming the tensor and element of the first NaN/Infinity, or null. */
  problem(): string | null {
    if (this.firstBad === null) return null;
    const byte = this.firstBad.element * 4;
    const tensor = this.tensors.find((t) => byte >= t.offset && byte < t.offset + t.byteLength);
    const where = tensor ? `tensor ${tensor.name} element ${(byte - tensor.offset) / 4}` : `element ${this.firstBad.element}`;
    return `${where} is ${this.firstBad.value}`;
  }

  get l2Norm(): number {
    return Math.sqrt(this.squares);
  }
}
