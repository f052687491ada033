import type { TensorSpec } from '../../shared/wire/index.js';

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
    const aligned = data.byteOffset % 4 === 0 ? data : Buffer.from(data.subarray(0, whole));
    const values = new Float32Array(aligned.buffer, aligned.byteOffset, whole / 4);
    let squares = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      squares += v * v;
    }
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
