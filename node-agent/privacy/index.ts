export { privatizeUpdate, validateDpSettings, type DpSettings, type PrivatizeResult } from './gaussian-mechanism.js';
export { secureGaussianSource, seededGaussianSource, type GaussianSource } from './gaussian-source.js';
export { DEFAULT_ORDERS, rdpOfGaussian, epsilonFromRdp } from './rdp.js';
export { PrivacyAccountant, type PrivacyRelease, type PrivacySpent } from './rdp-accountant.js';
