import { openEvaluation, type EvaluationBinding } from '../../shared/crypto/index.js';
import { parseSiteEvaluation, type SiteEvaluationSummary } from '../../shared/evaluation/index.js';
import { InvalidUpdateError, UnknownSiteError, type SealedEvaluation, type UploadReceipt } from '../../shared/wire/index.js';
import type { IngestKeys } from './update-receiver.js';

/** Where a summary that passed the edge goes: the evaluation round open (it may still refuse it). */
export interface EvaluationGate {
  acceptEvaluation(binding: EvaluationBinding, summary: SiteEvaluationSummary, bytes: number): void;
}

/**
 * The edge for evaluation summaries: the site's signatures over the header and the sealed body,
 * then the body's schema and consistency. Nothing reaches the round (or its record, or the
 * journal) before all of that passed; a refusal changes no state.
 */
export class EvaluationReceiver {
  constructor(private readonly gate: EvaluationGate, private readonly keys: IngestKeys) {}

  receive(message: SealedEvaluation): UploadReceipt {
    const site = message.header?.site ?? '';
    const siteKey = this.keys.siteKey(site);
    if (!siteKey) throw new UnknownSiteError(`evaluation from site "${site}": the site has no enrolled key; nothing from it is accepted`);
    const { binding, body } = openEvaluation(this.keys.coordinator, siteKey, message);
    const who = `evaluation from site ${binding.site} for round ${binding.round}`;
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      throw new InvalidUpdateError(`${who}: its sealed body is not UTF-8 text; it was refused`);
    }
    const summary = parseSiteEvaluation(text, who, { examples: binding.examples, modelVersion: binding.modelVersion });
    const bytes = message.sealedBody.byteLength;
    this.gate.acceptEvaluation(binding, summary, bytes);
    return { accepted: true, round: binding.round, bytes, message: `evaluation from ${binding.site} accepted for round ${binding.round}` };
  }
}
