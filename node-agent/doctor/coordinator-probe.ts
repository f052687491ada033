import * as grpc from '@grpc/grpc-js';
import { fingerprint, formatPublicKey, loadSodium, newNonce, signAsSite, verifyCoordinator, type HandshakeTerms, type Identity } from '../../shared/crypto/index.js';
import { PROTOCOL_VERSION, type CoordinatorMessage } from '../../shared/wire/index.js';
import { CoordinatorClient } from '../connection/coordinator-client.js';
import { failed, passed, type DoctorCheck } from './check.js';

export interface CoordinatorProbe {
  coordinator: string;
  site: string;
  identity: Identity;
  coordinatorKey: Uint8Array;
  /** How long to wait for the whole handshake. */
  timeoutMs: number;
}

const NAME = 'coordinator reachable, site enrolled';

/**
 * The agent's own handshake, run once: hello, check the coordinator's signed challenge against the
 * pinned key, answer with the site key's proof, and hang up at the welcome. Only a real handshake
 * tells "enrolled" from "enrolled with another key". A welcomed probe counts as a session of this
 * site for a moment, so a live agent of the same site reconnects once.
 */
export async function probeCoordinator(probe: CoordinatorProbe): Promise<DoctorCheck> {
  await loadSodium();
  const client = new CoordinatorClient(probe.coordinator, { site: probe.identity, coordinator: probe.coordinatorKey });
  try {
    return await new Promise<DoctorCheck>((resolve) => {
      const call = client.openSession();
      const clientNonce = newNonce();
      let settled = false;
      const finish = (check: DoctorCheck) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        call.cancel();
        resolve(check);
      };
      const timer = setTimeout(
        () => finish(unreachable(probe, `no answer within ${probe.timeoutMs / 1000}s`)),
        probe.timeoutMs,
      );
      call.on('data', (message: CoordinatorMessage) => {
        if (message.body === 'challenge' && 'challenge' in message) {
          const challenge = message.challenge;
          const terms: HandshakeTerms = {
            federation: challenge.federation,
            site: probe.site,
            coordinatorPublicKey: probe.coordinatorKey,
            clientNonce,
            serverNonce: new Uint8Array(challenge.serverNonce),
          };
          const offered = new Uint8Array(challenge.coordinatorPublicKey);
          if (!Buffer.from(offered).equals(Buffer.from(probe.coordinatorKey)) || !verifyCoordinator(terms, new Uint8Array(challenge.signature))) {
            finish(
              failed(
                NAME,
                `the server at ${probe.coordinator} is not the coordinator this site trusts: it presented ${formatPublicKey(offered)}, the site pins ${fingerprint(probe.coordinatorKey)}…`,
                'check coordinator (the address) and coordinatorKey (the key `medley coordinator init` printed for this federation)',
              ),
            );
            return;
          }
          call.write({ proof: { signature: signAsSite(probe.identity, terms) } });
        } else if (message.body === 'welcome' && 'welcome' in message) {
          const w = message.welcome;
          finish(passed(NAME, `${probe.coordinator}: federation ${w.federation}, model version ${w.modelVersion}; site ${probe.site} passed the handshake`));
        }
      });
      call.on('error', (err: grpc.ServiceError) => finish(refusal(probe, err)));
      call.on('end', () => finish(failed(NAME, `${probe.coordinator} ended the session before welcoming site ${probe.site}`, 'see the coordinator log for why')));
      call.write({
        hello: { site: probe.site, protocolVersion: PROTOCOL_VERSION, agentVersion: '0.1.0', backend: 'doctor', trainExamples: 0, valExamples: 0, clientNonce },
      });
    });
  } finally {
    client.close();
  }
}

function unreachable(probe: CoordinatorProbe, why: string): DoctorCheck {
  const port = probe.coordinator.slice(probe.coordinator.lastIndexOf(':') + 1);
  return failed(
    NAME,
    `cannot reach the coordinator at ${probe.coordinator}: ${why}`,
    `check the address (coordinator), that the coordinator runs, and that this host may open outbound TCP to port ${port}`,
  );
}

/** A refusal says what the coordinator thinks of this site; the fix differs for each. */
function refusal(probe: CoordinatorProbe, err: grpc.ServiceError): DoctorCheck {
  // grpc-js appends an empty "Resolution note:" to connection failures; it says nothing here.
  const details = (err.details || err.message).replace(/\.?\s*Resolution note:\s*$/, '');
  const addCommand = `medley site add --dir STATE --name ${probe.site} --public-key ${formatPublicKey(probe.identity.signPublicKey)}`;
  switch (err.code) {
    case grpc.status.PERMISSION_DENIED:
      return failed(NAME, `site ${probe.site} is not enrolled at ${probe.coordinator}: ${details}`, `the coordinator's operator runs \`${addCommand}\``);
    case grpc.status.UNAUTHENTICATED:
      return failed(
        NAME,
        `site ${probe.site} is enrolled at ${probe.coordinator} with a different key than ${probe.identity.signPublicKey ? fingerprint(probe.identity.signPublicKey) : '?'}…: ${details}`,
        `point identity at the key that was enrolled, or (new identity) the coordinator's operator runs \`medley site remove --dir STATE --name ${probe.site}\` then \`${addCommand}\``,
      );
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.FAILED_PRECONDITION:
      return failed(NAME, `${probe.coordinator} refused the handshake: ${details}`, 'upgrade the older of agent and coordinator');
    default:
      return unreachable(probe, details);
  }
}
