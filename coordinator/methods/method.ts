import type { DeclaredParameter } from '../../shared/config/index.js';
import type { ModelManifest } from '../store/index.js';

/** The round's base model, as a method sees it when it prepares the round's tasks. */
export interface MethodBase {
  manifest: ModelManifest;
  /** The base version's weights, flattened in manifest order (read from the store on demand). */
  weights(): Promise<Float32Array>;
}

/**
 * A learning method a run can choose (`round start --method NAME`): what the sites do with the
 * global model, and what they send back. The aggregation strategy (how updates are combined) is a
 * separate choice; a method that sends no weight updates decides its own aggregation.
 */
export interface MethodDefinition {
  name: string;
  summary: string;
  parameters: Readonly<Record<string, DeclaredParameter>>;
  /**
   * What every selected site sends back: `weights` is a weight update the run's strategy
   * aggregates (fedavg, TGD, ...); `soft-labels` are predictions on a shared transfer set.
   */
  returns: 'weights' | 'soft-labels';
  /**
   * Work done once per round at the coordinator before the tasks go out; its bytes travel with
   * every task of the round (Task.method_payload), e.g. TGD's gradient masks from the base model.
   * Absent: tasks carry no payload.
   */
  roundPayload?(base: MethodBase, params: Readonly<Record<string, number>>): Promise<Uint8Array>;
}
