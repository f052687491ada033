import type * as grpc from '@grpc/grpc-js';
import { newNonce, signAsSite, verifyCoordinator, type HandshakeTerms, type Identity } from '../../shared/crypto/index.js';
import { PROTOCOL_VERSION, type AgentMessage, type CoordinatorMessage, type Task, type Welcome } from '../../shared/wire/index.js';

/**
 * The agent's side of a control session, driven by hand (no agent process, no trainer), as
 * node-agent/agent.ts drives it: hello with a fresh client nonce, check the coordinator's
 * challenge against the pinned key, answer with the site's proof, then take the welcome and tasks.
 * Downloads and uploads must carry `welcome.sessionId` while the session lives.
 */
export class HandDrivenSession {
  private readonly tasks: Task[] = [];
  private readonly waiters: ((t: Task) => void)[] = [];
  readonly welcome: Promise<Welcome>;

  constructor(
    readonly call: grpc.ClientDuplexStream<AgentMessage, CoordinatorMessage>,
    keys: { site: Identity; coordinator: Uint8Array },
    hello: { site: string; trainExamples: number },
  ) {
    const clientNonce = newNonce();
    let settle!: { resolve: (w: Welcome) => void; reject: (e: Error) => void };
    this.welcome = new Promise<Welcome>((resolve, reject) => (settle = { resolve, reject }));
    // A rejection nobody awaits (a session cancelled in cleanup) must not crash the runner.
    this.welcome.catch(() => undefined);
    call.on('data', (m: CoordinatorMessage) => {
      if (m.body === 'challenge' && 'challenge' in m) {
        const terms: HandshakeTerms = {
          federation: m.challenge.federation,
          site: hello.site,
          coordinatorPublicKey: keys.coordinator,
          clientNonce,
          serverNonce: new Uint8Array(m.challenge.serverNonce),
        };
        if (!Buffer.from(m.challenge.coordinatorPublicKey).equals(Buffer.from(keys.coordinator)) || !verifyCoordinator(terms, new Uint8Array(m.challenge.signature))) {
          settle.reject(new Error(`the coordinator did not prove it holds the pinned key (site ${hello.site})`));
          call.cancel();
          return;
        }
        call.write({ proof: { signature: signAsSite(keys.site, terms) } });
      } else if (m.body === 'welcome' && 'welcome' in m) {
        settle.resolve(m.welcome);
      } else if (m.body === 'task' && 'task' in m) {
        const waiter = this.waiters.shift();
        if (waiter) waiter(m.task);
        else this.tasks.push(m.task);
      }
    });
    call.on('error', (err: Error) => settle.reject(err));
    call.on('end', () => settle.reject(new Error(`session of ${hello.site} ended before the welcome`)));
    call.write({
      hello: { site: hello.site, protocolVersion: PROTOCOL_VERSION, agentVersion: 'bench', backend: 'none', trainExamples: hello.trainExamples, valExamples: 0, clientNonce },
    });
  }

  nextTask(): Promise<Task> {
    const queued = this.tasks.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.call.cancel();
  }
}
