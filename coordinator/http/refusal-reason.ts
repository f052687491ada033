import {
  AuthenticationError,
  BusyError,
  InvalidUpdateError,
  RoundMismatchError,
  UnknownSiteError,
} from '../../shared/wire/index.js';

/** The reasons /metrics counts refused updates by: a small fixed set, so the label never explodes. */
export const REFUSAL_REASONS = ['bad-signature', 'wrong-round', 'late', 'malformed', 'non-finite', 'too-large', 'busy', 'unknown-site', 'other'] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/**
 * Sorts the error an upload was refused with into one reason. The error class says most of it;
 * within InvalidUpdateError and RoundMismatchError the edge's messages (coordinator/ingest,
 * coordinator/rounds/round.ts) tell the cases apart, and refusal-reason.test.ts pins each of them.
 */
export function refusalReason(err: unknown): RefusalReason {
  const message = err instanceof Error ? err.message : '';
  if (err instanceof UnknownSiteError) return 'unknown-site';
  if (err instanceof AuthenticationError) return 'bad-signature';
  if (err instanceof BusyError) return 'busy';
  if (err instanceof RoundMismatchError) return /\blate\b|closed before|closed while|no round is open/.test(message) ? 'late' : 'wrong-round';
  if (err instanceof InvalidUpdateError) {
    // A chunk or trailer that fails its AEAD tag or signature is tampering, not a format problem.
    if (/fails authentication|does not verify|sealed to another coordinator/.test(message)) return 'bad-signature';
    if (/not finite|\bNaN\b|Infinity/.test(message)) return 'non-finite';
    if (/above the federation's bound|more than the \d+ bytes/.test(message)) return 'too-large';
    return 'malformed';
  }
  // A stream cut short (a dropped link, a cancelled upload) and anything unexpected.
  return 'other';
}
