import { createHash } from 'node:crypto';

export type TranscriptField = string | number | Uint8Array;

/**
 * SHA-256 over a domain label and a list of fields, each tagged with its type and length, so two
 * different lists can never encode to the same bytes (no "ab"+"c" = "a"+"bc"). Every signature in
 * Medley is over such a transcript: the domain keeps a signature made for one purpose (a
 * handshake) from being accepted for another (an update).
 */
export function transcript(domain: string, fields: readonly TranscriptField[]): Uint8Array {
  const hash = createHash('sha256');
  const put = (tag: number, bytes: Uint8Array) => {
    const head = Buffer.alloc(5);
    head.writeUInt8(tag, 0);
    head.writeUInt32BE(bytes.byteLength, 1);
    hash.update(head);
    hash.update(bytes);
  };
  put(0, Buffer.from(domain, 'utf8'));
  for (const field of fields) {
    if (typeof field === 'string') {
      put(1, Buffer.from(field, 'utf8'));
    } else if (typeof field === 'number') {
      if (!Number.isSafeInteger(field) || field < 0) throw new Error(`transcript field ${field} is not a non-negative safe integer`);
      const bytes = Buffer.alloc(8);
      bytes.writeBigUInt64BE(BigInt(field));
      put(2, bytes);
    } else {
      put(3, field);
    }
  }
  return new Uint8Array(hash.digest());
}
