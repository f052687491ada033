export type { ControlChannel, HandshakeRequest, HandshakeRefusal, AliveReply } from './control-channel.js';
export { encodeJson, decodeJson } from './control-channel.js';
export { federationSubjects, helloSubject, subjectToken, lastToken, type FederationSubjects } from './subjects.js';
export { sealEnvelope, openEnvelope, ReplayGuard, EnvelopeRejectedError, type Envelope, type EnvelopeExpectation } from './envelope.js';
export { encodeAgentMessage, decodeAgentMessage, encodeCoordinatorMessage, decodeCoordinatorMessage, encodeRoundEvent, decodeRoundEvent } from './codec.js';
export { connectNats, natsAuthenticator, describeNats, type NatsConnection } from './nats-connection.js';
export { ensureTaskStream, ensureTaskConsumer, TASK_MAX_AGE_MS, HEARTBEAT_MS, MISSED_HEARTBEATS } from './task-stream.js';
