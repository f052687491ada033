import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from './canonical-json.js';

/** What left the site: a plain or masked model update, secure-aggregation traffic, a refusal, or an evaluation summary. */
export const AUDIT_KINDS = ['update', 'masked-update', 'secagg-keys', 'secagg-shares', 'secagg-reveal', 'refusal', 'evaluation'] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

/** The `prev` of the first entry: there is no line before it. */
export const GENESIS_HASH = '0'.repeat(64);

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits');

const dpSchema = z.strictObject({
  // Finite by construction (zod numbers are): a release without noise is logged with dp: null.
  epsilon: z.number().nonnegative(),
  delta: z.number().gt(0).lt(1),
  noiseMultiplier: z.number().positive(),
});

/** What the agent logs about one thing it sent; the log adds seq, time and the chain. */
export const auditEntrySchema = z.strictObject({
  federation: z.string().min(1),
  round: z.number().int().nonnegative(),
  kind: z.enum(AUDIT_KINDS),
  bytes: z.number().int().nonnegative(),
  /** SHA-256 of the sealed payload exactly as sent, so the coordinator's copy can be matched. */
  sha256: hex64,
  dp: dpSchema.nullable(),
  detail: z.string().optional(),
});

export type AuditEntry = z.infer<typeof auditEntrySchema>;

/** One line of the log as written. Kinds are read loosely so a newer agent's log still verifies. */
export const auditRecordSchema = z.strictObject({
  seq: z.number().int().positive(),
  time: z.string().min(1),
  ...auditEntrySchema.shape,
  kind: z.string().min(1),
  prev: hex64,
  hash: hex64,
});

export type AuditRecord = Omit<z.infer<typeof auditRecordSchema>, 'kind'> & { kind: AuditKind | (string & {}) };

/** sha256 over the canonical JSON of the record without its own hash. */
export function recordHash(record: Omit<AuditRecord, 'hash'> & { hash?: string }): string {
  const { hash: _ignored, ...body } = record;
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/** Bytes and SHA-256 of a payload, for the entry that logs it. */
export function payloadDigest(payload: Uint8Array): { bytes: number; sha256: string } {
  return { bytes: payload.byteLength, sha256: createHash('sha256').update(payload).digest('hex') };
}
