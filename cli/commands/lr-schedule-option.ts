import { InvalidArgumentError } from 'commander';
import { parseLrSchedule } from '../../coordinator/rounds/index.js';

/** `--lr-schedule`'s help, the same on every command that starts rounds. */
export const LR_SCHEDULE_HELP =
  'local learning rate over the rounds: constant, exp:GAMMA (round k gets lr x GAMMA^k) or cosine:FLOOR (half a cosine from lr down to FLOOR x lr in the last round)';

/**
 * Commander parser for `--lr-schedule`: refuses a malformed schedule before anything starts, with
 * the coordinator's own words; the text itself travels in StartRoundsRequest.
 */
export function lrScheduleFlag(value: string): string {
  try {
    parseLrSchedule(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value.trim();
}
