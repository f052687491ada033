/** Public API of shared/model: backends, the model zoo, model I/O and prediction. */
export { selectBackend, currentBackend, type BackendChoice, type BackendReport, type SelectBackendOptions } from './backend.js';
export {
  ARCHITECTURES, DEFAULT_SEED, buildModel, completeSpec, describeModel, modelSpecFromString, parseArchitecture, taskOfSpec, validateModelSpec,
  type Architecture, type ModelSpec,
} from './zoo.js';
export { TASK_KINDS, parseTaskKind, taskOfManifestSpec, type TaskKind } from './task-kind.js';
export { UPSAMPLING_MODES, type UpsamplingMode } from './unet.js';
export {
  fileSystemLoadHandler, getNamedWeights, loadLayersModelFromDir, modelFromTopology, saveLayersModelToDir, setNamedWeights, weightName,
  type NamedWeight,
} from './layers-model-io.js';
export { modelFromTopologyJson, readFlatWeights, weightLayout, writeFlatWeights } from './flat-weights.js';
export { NetworkPool, networkPool } from './network-pool.js';
export { batchPixels, checkCompatible, predictProbabilities, yieldToEventLoop } from './predict.js';
export { registerWasmGradients, WASM_GRADIENT_KERNELS } from './wasm-gradients.js';
export { registerWasmFastKernels } from './wasm-fast-kernels.js';
export { registerBatchNormGradient } from './batchnorm-gradient.js';
export { denoisingMetrics, evaluateTask, MASK_THRESHOLD, multiLabelMetrics, predictOutputs, segmentationMetrics, taskMetrics } from './task-metrics.js';
export { kernelSparsityEntropy, minMaxNormalise, type KseOptions, type KseScores } from './kse.js';
export { planTgd, type ConsumerScores, type TgdOptions, type TgdPlan } from './tgd-masks.js';
export {
  checkMask, countTrainable, decodeMask, encodeMask, flatSize, TrainableMaskBuilder, weightSlots, type TrainableMask, type WeightSlot,
} from './trainable-mask.js';
