import { describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  BusyError,
  InvalidUpdateError,
  RoundMismatchError,
  TruncatedStreamError,
  UnknownSiteError,
} from '../../shared/wire/index.js';
import { refusalReason } from './refusal-reason.js';

// Messages as the edge words them (coordinator/ingest, coordinator/rounds/round.ts, shared/crypto/sealed-update.ts).
const who = 'update from site site-a for round 3';
const cases: [Error, string][] = [
  [new UnknownSiteError(`${who}: site site-a has no enrolled key; nothing from it is accepted`), 'unknown-site'],
  [new AuthenticationError(`${who} has a header signature that does not verify with the site's enrolled key`), 'bad-signature'],
  [new InvalidUpdateError(`${who} has chunk 2 that fails authentication (tampered, reordered or spliced)`), 'bad-signature'],
  [new InvalidUpdateError(`${who} carries a key sealed to another coordinator (or damaged)`), 'bad-signature'],
  [new RoundMismatchError('round 3 closed before the update from site-a arrived; late updates are refused'), 'late'],
  [new RoundMismatchError('no round is open (update from site-a for round 3); late updates are refused'), 'late'],
  [new RoundMismatchError('update from site-a was trained from model version 2; round 3 is based on version 3'), 'wrong-round'],
  [new RoundMismatchError('site site-a was not selected for round 3; its update is refused'), 'wrong-round'],
  [new InvalidUpdateError(`${who} is not finite: tensor dense/bias element 5 is NaN. Check the site's training`), 'non-finite'],
  [new InvalidUpdateError(`${who} has L2 norm 12.00, above the federation's bound of 10`), 'too-large'],
  [new InvalidUpdateError(`${who} sends more than the 4000 bytes it announced`), 'too-large'],
  [new InvalidUpdateError('update stream must start with a header, got "data"'), 'malformed'],
  [new InvalidUpdateError(`${who} does not match the round's model: tensor dense/bias has shape [5,2], expected [10]`), 'malformed'],
  [new BusyError('the coordinator is reading 8 uploads and has 64 more waiting'), 'busy'],
  [new TruncatedStreamError(`${who} ended after 2002 of 4000 bytes; it was discarded, send it again`), 'other'],
  [new Error('disk full'), 'other'],
];

describe('refusalReason', () => {
  it.each(cases)('%s -> %s', (err, reason) => {
    expect(refusalReason(err)).toBe(reason);
  });
});
