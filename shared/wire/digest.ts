import { createHash, type Hash } from 'node:crypto';

/** SHA-256 over a transfer, fed chunk by chunk, so no transfer is ever buffered to hash it. */
export class TransferDigest {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.byteLength;
  }

  get byteCount(): number {
    return this.bytes;
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
