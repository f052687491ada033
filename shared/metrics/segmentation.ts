/**
 * Overlap between a reference segmentation mask and a predicted one. Masks are flat binary arrays
 * (0 = background, 1 = foreground) of the same length: pass the pixels of one image (or one
 * volume) in any fixed order, for example the row-major data of a Uint8Array.
 *
 * Empty vs empty (no foreground in either mask) makes both ratios 0/0. The default answer is 1:
 * a slice without a lesion, correctly predicted without one, is a perfect segmentation, and
 * scoring it 0 would punish the right answer when Dice is averaged over slices. Pass `empty = NaN`
 * to leave such pairs out of an average instead, or 0 for scikit-learn's default
 * (f1_score/jaccard_score with zero_division "warn"). Otherwise both agree with scikit-learn's
 * f1_score (Dice) and jaccard_score (IoU) on the flattened masks.
 */
import { checkSameLength } from './validate.js';

/** Dice (Sørensen) coefficient = 2 |A ∩ B| / (|A| + |B|). */
export function dice(maskTrue: ArrayLike<number>, maskPred: ArrayLike<number>, empty = 1): number {
  const { intersection, sizeTrue, sizePred } = overlap('dice', maskTrue, maskPred, empty);
  const denominator = sizeTrue + sizePred;
  return denominator === 0 ? empty : (2 * intersection) / denominator;
}

/** Intersection over union (Jaccard index) = |A ∩ B| / |A ∪ B|; equals dice / (2 - dice). */
export function iou(maskTrue: ArrayLike<number>, maskPred: ArrayLike<number>, empty = 1): number {
  const { intersection, sizeTrue, sizePred } = overlap('iou', maskTrue, maskPred, empty);
  const union = sizeTrue + sizePred - intersection;
  return union === 0 ? empty : intersection / union;
}

function overlap(fn: string, maskTrue: ArrayLike<number>, maskPred: ArrayLike<number>, empty: number) {
  checkSameLength(fn, 'maskTrue', maskTrue, 'maskPred', maskPred);
  if (empty !== 0 && empty !== 1 && !Number.isNaN(empty)) {
    throw new Error(`${fn}: empty must be 0, 1 or NaN (the score of two masks without foreground), got ${empty}`);
  }
  let intersection = 0;
  let sizeTrue = 0;
  let sizePred = 0;
  for (let i = 0; i < maskTrue.length; i++) {
    const a = maskTrue[i];
    const b = maskPred[i];
    if ((a !== 0 && a !== 1) || (b !== 0 && b !== 1)) {
      const [name, value] = a !== 0 && a !== 1 ? ['maskTrue', a] : ['maskPred', b];
      throw new Error(`${fn}: ${name}[${i}] is ${value}; masks must be binary 0/1 (threshold a probability map first)`);
    }
    intersection += a & b;
    sizeTrue += a;
    sizePred += b;
  }
  return { intersection, sizeTrue, sizePred };
}
