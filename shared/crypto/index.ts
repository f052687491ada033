export * from './sodium.js';
export * from './transcript.js';
export * from './keys.js';
export * from './handshake.js';
export * from './sealed-update.js';
export * from './model-signature.js';
export * from './admin-key.js';
export * from './sealed-evaluation.js';
