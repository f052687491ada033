export * from './messages.js';
export * from './errors.js';
export * from './tensor-codec.js';
export * from './digest.js';
export * from './stream-io.js';
export { loadMedleyProto, medleyPackage, CHANNEL_OPTIONS, CHUNK_BYTES, UPLOAD_GO_METADATA, uploadGoAhead } from './proto.js';
export { InProcessServer, InProcessClient, type InProcessServerOptions } from './in-process-channel.js';
