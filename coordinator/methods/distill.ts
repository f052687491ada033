import type { MethodDefinition } from './method.js';

/**
 * Federated knowledge distillation (network-agnostic; FedMD, DS-FL, Wang et al. 2021): every site
 * trains a model of its own architecture on its own data and sends its class probabilities on the
 * consortium's public transfer set; the coordinator averages them and distils the global student
 * from the average. The round itself runs in coordinator/rounds/soft-label-run.ts.
 */
export const distill: MethodDefinition = {
  name: 'distill',
  summary: 'sites send soft labels on the coordinator\'s transfer set (any local architecture); the coordinator averages them and distils the global student',
  parameters: {
    temperature: { default: 2, min: 0, exclusiveMin: true, max: 20, describe: 'temperature T of the KL distillation loss, for the student and for the sites distilling from the aggregate' },
    sharpen: { default: 0, min: 0, max: 10, describe: 'entropy-reducing aggregation (DS-FL): softmax(mean / sharpen) per row; 0 = plain mean' },
    weighting: { default: 0, min: 0, max: 1, integer: true, describe: '0: every site counts the same; 1: sites count by their training examples' },
    studentEpochs: { default: 5, min: 1, max: 1000, integer: true, describe: 'epochs the coordinator trains the student on the transfer set each round' },
    studentLearningRate: { default: 0.001, min: 0, exclusiveMin: true, max: 1, describe: 'Adam learning rate of the student' },
    siteDistillEpochs: { default: 1, min: 0, max: 100, integer: true, describe: 'epochs each site first distils its local model from the previous round\'s aggregate (0 = never)' },
    threshold: { default: 0.5, min: 0, max: 1, exclusiveMin: true, exclusiveMax: true, describe: 'segmentation: aggregated foreground probability at which a pixel is foreground in the student\'s target mask' },
  },
  returns: 'soft-labels',
};
