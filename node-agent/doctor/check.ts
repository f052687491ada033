/**
 * One line of `medley agent doctor`: what was checked, whether it passed, what was found, and when
 * it failed the one thing to do about it. Never carries a secret: details name files, not contents.
 */
export interface DoctorCheck {
  readonly check: string;
  readonly ok: boolean;
  /** What was found: "mode 600, owner medley", "12 training, 3 validation images". */
  readonly detail: string;
  /** What to do when it failed: a command to run or a setting to change. */
  readonly fix?: string;
}

export function passed(check: string, detail: string): DoctorCheck {
  return { check, ok: true, detail };
}

export function failed(check: string, detail: string, fix: string): DoctorCheck {
  return { check, ok: false, detail, fix };
}

/** Runs a check that may throw; an unexpected error is a failed check, never a crashed doctor. */
export async function guarded(check: string, run: () => Promise<DoctorCheck> | DoctorCheck, fix: string): Promise<DoctorCheck> {
  try {
    return await run();
  } catch (err) {
    return failed(check, (err as Error).message, fix);
  }
}
