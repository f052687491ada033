import { medleyPackage, type AgentMessage, type CoordinatorMessage, type RoundEvent } from '../wire/index.js';

interface Method {
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(value: unknown): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}

/**
 * The bus carries the same protobuf messages as the gRPC session (proto/medley.proto), encoded by
 * the same definitions, so a message means the same thing on either transport.
 */
function method(service: 'Federation' | 'Admin', name: string): Method {
  const pkg = medleyPackage() as unknown as Record<string, { service: Record<string, Method> }>;
  return pkg[service]!.service[name]!;
}

export function encodeAgentMessage(message: AgentMessage): Uint8Array {
  return method('Federation', 'Session').requestSerialize(message);
}

export function decodeAgentMessage(bytes: Uint8Array): AgentMessage {
  return method('Federation', 'Session').requestDeserialize(Buffer.from(bytes)) as AgentMessage;
}

export function encodeCoordinatorMessage(message: CoordinatorMessage): Uint8Array {
  return method('Federation', 'Session').responseSerialize(message);
}

export function decodeCoordinatorMessage(bytes: Uint8Array): CoordinatorMessage {
  return method('Federation', 'Session').responseDeserialize(Buffer.from(bytes)) as CoordinatorMessage;
}

export function encodeRoundEvent(event: RoundEvent): Uint8Array {
  return method('Admin', 'WatchRounds').responseSerialize(event);
}

export function decodeRoundEvent(bytes: Uint8Array): RoundEvent {
  return method('Admin', 'WatchRounds').responseDeserialize(Buffer.from(bytes)) as RoundEvent;
}
