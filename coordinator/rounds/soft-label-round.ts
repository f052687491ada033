import { InvalidUpdateError, type UpdateHeader } from '../../shared/wire/index.js';
import type { RoundAggregate, UpdateSegment, ValidatedUpdate } from '../aggregation/index.js';
import type { AdmittedUpload, VerifiedUpdate } from '../ingest/index.js';
import type { SiteSoftLabels } from '../methods/index.js';
import { Round, type RoundOptions } from './round.js';

/** Reads an update's segments into one vector of `length` values. */
async function readAll(segments: AsyncIterable<UpdateSegment>, length: number): Promise<Float32Array> {
  const out = new Float32Array(length);
  for await (const s of segments) out.set(s.values, s.offset);
  return out;
}

async function* single(values: Float32Array): AsyncGenerator<UpdateSegment> {
  yield { offset: 0, values };
}

/**
 * A distillation round: its uploads are soft labels (one tensor, rows x classes), not weight
 * deltas. Before a plain (unmasked) upload is folded in, its values are checked as probabilities;
 * a bad one is refused with the reason and leaves the round's state as it was, so the round goes
 * on with the other sites. Masked uploads cannot be read one by one: the unmasked mean is checked.
 */
export class SoftLabelRound extends Round {
  constructor(options: RoundOptions, private readonly length: number, private readonly problem: (values: Float32Array) => string | null) {
    super(options);
  }

  override admit(header: UpdateHeader): AdmittedUpload {
    const admitted = super.admit(header);
    if (admitted.kind !== 'soft-labels') return admitted;
    return {
      ...admitted,
      accept: async (update: VerifiedUpdate) => {
        const values = await readAll(update.segments(), this.length);
        const problem = this.problem(values);
        if (problem) throw new InvalidUpdateError(`soft labels from site ${header.site} for round ${header.round} were refused: ${problem}; the round goes on without them`);
        await admitted.accept({ ...update, segments: () => single(values) });
      },
    };
  }
}

/**
 * The plain path's aggregate: it keeps each site's soft labels (they are the size of the transfer
 * set's labels, not of a model) so the round can average them with aggregateSoftLabels, the one
 * implementation tested against NumPy. It produces no weights: the student is trained instead.
 */
export class SoftLabelCollector implements RoundAggregate {
  readonly inputs: (SiteSoftLabels & { site: string })[] = [];

  get updates(): number {
    return this.inputs.length;
  }

  get totalWeight(): number {
    return this.inputs.reduce((sum, i) => sum + i.weight, 0);
  }

  async accept(update: ValidatedUpdate): Promise<void> {
    const parts: UpdateSegment[] = [];
    for await (const s of update.segments) parts.push(s);
    const length = parts.reduce((n, s) => Math.max(n, s.offset + s.values.length), 0);
    const values = new Float32Array(length);
    for (const s of parts) values.set(s.values, s.offset);
    this.inputs.push({ site: update.site, weight: update.weight, probabilities: values });
  }

  finishSegment(): Float32Array {
    throw new Error('a distillation round trains its student from the averaged soft labels; it has no weight segments to finish');
  }
}
