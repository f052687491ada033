export { METHODS, chooseMethod, findMethod, methodNames, type ChosenMethod } from './registry.js';
export type { MethodBase, MethodDefinition } from './method.js';
export { DistillRuntime, type DistillRound, type SiteSoftLabels } from './distill-runtime.js';
export { DistillBlobs, type LatestAggregate } from './distill-blobs.js';
