/**
 * Secure aggregation (SecAgg, Bonawitz et al. 2017) with dropout recovery by Shamir sharing, over
 * the sparse communication graph of SecAgg+ (Bell et al. 2020; the full graph where no sparser
 * one is safe): the coordinator learns the weighted sum of the surviving sites' updates and
 * nothing about any one of them. Transport-free: the classes take and return plain messages,
 * which the coordinator and agents carry over gRPC.
 */
export { SecAggClient, type SecAggClientOptions } from './client.js';
export { SecAggServer, type SecAggServerOptions } from './server.js';
export { SecAggAbortError, SecAggProtocolError } from './errors.js';
export type { AdvertisedKeys, EncryptedShare, RevealedShare, UnmaskRequest } from './messages.js';
export type { SecAggContext, SecAggParams } from './params.js';
export { addModular, dequantizeMean, meanErrorBound, quantizationScale, quantizeUpdate, subtractModular } from './quantize.js';
export { combineShares, splitSecret, splitSecretAt, type SecretShare } from './shamir.js';
export { CommunicationGraph } from './graph.js';
export { ADVERSARIAL_RATE, CORRECTNESS_BITS, graphParameters, SECURITY_BITS, type GraphParameters } from './graph-params.js';
export { applyMask, applyMasks, expandMask, type MaskSpec } from './prg.js';
