export { AuditLog } from './audit-log.js';
export { verifyAuditLog, readAuditLog, checkChain, type AuditVerification, type ChainState } from './verify-chain.js';
export { AUDIT_KINDS, GENESIS_HASH, payloadDigest, recordHash, type AuditEntry, type AuditKind, type AuditRecord } from './audit-record.js';
export { canonicalJson } from './canonical-json.js';
