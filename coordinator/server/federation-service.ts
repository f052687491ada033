import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { signModel, type Identity } from '../../shared/crypto/index.js';
import {
  AuthenticationError,
  CHUNK_BYTES,
  InvalidUpdateError,
  PROTOCOL_VERSION,
  TENSOR_FORMAT_VERSION,
  TruncatedStreamError,
  UPLOAD_GO_METADATA,
  UnknownSiteError,
  toServiceError,
  writeMessage,
  type AgentMessage,
  type CoordinatorMessage,
  type ModelChunk,
  type ModelRequest,
  type SealedEvaluation,
  type UpdateChunk,
  type UploadReceipt,
} from '../../shared/wire/index.js';
import type { EvaluationReceiver, UpdateReceiver } from '../ingest/index.js';
import { failStream } from './fail-stream.js';
import { blobDownload } from './blob-download.js';
import type { DistillBlobs } from '../methods/index.js';
import { challengeHello, checkProof, notOnList, PROOF_TIMEOUT_MS, type PendingHandshake } from './site-handshake.js';
import { handleSiteMessage } from './site-messages.js';
import type { RunController, RoundEvents, SiteSession, SiteSessions } from '../rounds/index.js';
import type { ModelStore, SiteRegistry } from '../store/index.js';

export interface FederationServiceDeps {
  federation: string;
  store: ModelStore;
  registry: SiteRegistry;
  sessions: SiteSessions;
  controller: RunController;
  receiver: UpdateReceiver;
  evaluations: EvaluationReceiver;
  events: RoundEvents;
  identity: Identity;
  log: (message: string) => void;
  /** Counts what goes in and out (the /metrics counters); absent, nothing is counted. */
  traffic?: TrafficObserver;
  /** Federated distillation's blobs (transfer set, aggregates) for DownloadBlob; absent without a transfer set. */
  distillBlobs?: DistillBlobs;
}

/** Told of every upload's outcome and of the bytes moved; CoordinatorMetrics is the one in use. */
export interface TrafficObserver {
  updateAccepted(): void;
  /** `err` is what the upload was refused with; the observer sorts it into a reason. */
  updateRefused(err: unknown): void;
  updateBytesReceived(bytes: number): void;
  modelBytesSent(bytes: number): void;
}

/**
 * After an upload is refused the agent may still be sending (it learns of the refusal when the
 * status arrives). What it sent must be read and dropped: bytes nobody reads keep the HTTP/2
 * flow-control windows shut, and on a connection shared by several uploads one refused stream
 * would then stall the others.
 */
function drain(call: grpc.ServerReadableStream<UpdateChunk, UploadReceipt>): void {
  if (call.destroyed || call.readableEnded) return;
  call.removeAllListeners('readable');
  call.on('data', () => undefined);
  call.on('error', () => undefined);
  call.resume();
}

/** The service agents dial: control session, model download, update upload. */
export function federationService(deps: FederationServiceDeps): grpc.UntypedServiceImplementation {
  const { store, registry, sessions, controller, receiver, events, log } = deps;

  /**
   * The control session. Nothing but the handshake is accepted until the site has proved it holds
   * its enrolled key: hello -> challenge -> proof -> welcome.
   */
  function session(call: grpc.ServerDuplexStream<AgentMessage, CoordinatorMessage>): void {
    let current: SiteSession | null = null;
    let pending: PendingHandshake | null = null;
    let proofTimer: NodeJS.Timeout | undefined;
    const end = (err?: unknown) => {
      clearTimeout(proofTimer);
      if (current) {
        sessions.unregister(current);
        log(`site ${current.site} disconnected`);
        current = null;
      }
      if (err) {
        failStream(call, err);
      } else if (!call.writableEnded) {
        call.end();
      }
    };
    const welcome = () => {
      const hello = pending!.hello;
      pending = null;
      clearTimeout(proofTimer);
      const sessionId = randomUUID();
      current = {
        site: hello.site,
        sessionId,
        backend: hello.backend,
        trainExamples: hello.trainExamples,
        connectedAt: Date.now(),
        lastSeen: Date.now(),
        state: 'idle',
        send: (m) => {
          if (!call.writableEnded && !call.destroyed) call.write(m);
        },
        close: (reason, refuse) => {
          log(`closing session of ${hello.site}: ${reason}`);
          if (call.writableEnded || call.destroyed) return;
          if (refuse) failStream(call, new UnknownSiteError(reason));
          else call.end();
        },
      };
      call.write({ welcome: { federation: deps.federation, sessionId, modelVersion: store.latest, protocolVersion: PROTOCOL_VERSION } });
      sessions.register(current);
      log(`site ${hello.site} connected (backend ${hello.backend}, ${hello.trainExamples} training examples)`);
    };
    call.on('data', (message: AgentMessage) => {
      try {
        if (message.body === 'hello' && 'hello' in message) {
          if (current || pending) throw new InvalidUpdateError('a session says hello only once');
          const answer = challengeHello(message.hello, deps);
          pending = answer.pending;
          call.write(answer.challenge);
          proofTimer = setTimeout(() => end(new AuthenticationError(`site ${message.hello.site} did not answer the challenge within ${PROOF_TIMEOUT_MS / 1000}s`)), PROOF_TIMEOUT_MS);
          return;
        }
        if (message.body === 'proof' && 'proof' in message) {
          if (!pending) throw new InvalidUpdateError('a proof is only accepted in answer to a challenge');
          checkProof(pending, new Uint8Array(message.proof.signature));
          welcome();
          return;
        }
        if (!current) throw new AuthenticationError('an agent must complete the handshake (hello, proof) before anything else on its session');
        handleSiteMessage({ events, controller }, current, message);
      } catch (err) {
        log(`session refused: ${(err as Error).message}`);
        end(err);
      }
    });
    call.on('end', () => end());
    call.on('error', () => end());
    call.on('cancelled', () => end());
  }

  /** Downloads and uploads ride on an authenticated session: the id it was welcomed with. */
  function checkSession(site: string, sessionId: string): void {
    if (!registry.publicKeyOf(site)) throw notOnList(site);
    const live = sessions.get(site);
    if (!live || live.sessionId !== sessionId) {
      throw new AuthenticationError(`site ${site} has no authenticated session with id "${sessionId}"; the agent must connect (and pass the challenge) first`);
    }
  }

  async function downloadModel(call: grpc.ServerWritableStream<ModelRequest, ModelChunk>): Promise<void> {
    const request = call.request;
    try {
      checkSession(request.site, request.sessionId);
      const version = request.version || store.latest;
      const manifest = await store.manifest(version);
      const topologyJson = JSON.stringify(manifest.topology);
      const specJson = JSON.stringify(manifest.spec);
      if (request.offset < 0 || request.offset > manifest.totalBytes || request.offset % 4 !== 0) {
        throw new InvalidUpdateError(`download offset ${request.offset} is outside model version ${version} (${manifest.totalBytes} bytes)`);
      }
      // A resumed download is worth a line: it shows an interrupted transfer did not start over.
      if (request.offset > 0) log(`site ${request.site} resumes its download of model version ${version} at byte ${request.offset} of ${manifest.totalBytes}`);
      await writeMessage(call, {
        header: {
          version,
          topologyJson,
          specJson,
          tensors: manifest.tensors,
          totalBytes: manifest.totalBytes,
          sha256: manifest.sha256,
          offset: request.offset,
          formatVersion: TENSOR_FORMAT_VERSION,
          federation: deps.federation,
          signature: signModel(deps.identity, {
            federation: deps.federation,
            version,
            sha256: manifest.sha256,
            totalBytes: manifest.totalBytes,
            topologyJson,
            specJson,
            tensors: manifest.tensors,
          }),
        },
      });
      let sent = 0;
      for await (const chunk of store.readWeights(version, request.offset, CHUNK_BYTES)) {
        if (call.cancelled) return;
        await writeMessage(call, { data: chunk });
        sent += chunk.length;
        controller.noteDownload(request.site, chunk.length);
        deps.traffic?.modelBytesSent(chunk.length);
      }
      await writeMessage(call, { trailer: { bytes: sent } });
      call.end();
    } catch (err) {
      failStream(call, err);
    }
  }

  function uploadUpdate(call: grpc.ServerReadableStream<UpdateChunk, UploadReceipt>, callback: grpc.sendUnaryData<UploadReceipt>): void {
    // A cancelled client would leave the async iterator waiting forever; turn it into an error.
    call.on('cancelled', () => call.destroy(new TruncatedStreamError('the agent cancelled the upload; it was discarded')));
    const guarded = (async function* () {
      for await (const chunk of call as AsyncIterable<UpdateChunk>) {
        if (chunk.body === 'header' && 'header' in chunk) checkSession(chunk.header.site, chunk.header.sessionId);
        yield chunk;
      }
    })();
    receiver
      .receive(guarded, (bytes) => deps.traffic?.updateBytesReceived(bytes), () => {
        const go = new grpc.Metadata();
        go.set(UPLOAD_GO_METADATA, 'go');
        call.sendMetadata(go);
      })
      .then((receipt) => {
        deps.traffic?.updateAccepted();
        events.publish({ kind: 'update-accepted', round: receipt.round, site: '', message: receipt.message, record: null });
        callback(null, receipt);
      })
      .catch((err: unknown) => {
        const status = toServiceError(err);
        log(`update refused: ${status.details}`);
        deps.traffic?.updateRefused(err);
        events.publish({ kind: 'update-rejected', round: controller.openRound?.number ?? 0, site: '', message: status.details ?? '', record: null });
        callback(status, null);
        drain(call);
      });
  }

  /** An evaluation summary: on an authenticated session, then the receiver's checks, then the round's. */
  function submitEvaluation(call: grpc.ServerUnaryCall<SealedEvaluation, UploadReceipt>, callback: grpc.sendUnaryData<UploadReceipt>): void {
    const header = call.request.header;
    try {
      if (!header) throw new InvalidUpdateError('an evaluation must carry its header');
      checkSession(header.site, header.sessionId);
      const receipt = deps.evaluations.receive(call.request);
      events.publish({ kind: 'evaluation-accepted', round: receipt.round, site: header.site, message: receipt.message, record: null });
      callback(null, receipt);
    } catch (err) {
      const status = toServiceError(err);
      log(`evaluation refused: ${status.details}`);
      events.publish({ kind: 'evaluation-rejected', round: header?.round ?? 0, site: header?.site ?? '', message: status.details ?? '', record: null });
      callback(status, null);
    }
  }

  const downloadBlob = blobDownload({
    federation: deps.federation,
    identity: deps.identity,
    blobs: deps.distillBlobs,
    checkSession,
    onBytes: (site, bytes) => {
      controller.noteDownload(site, bytes);
      deps.traffic?.modelBytesSent(bytes);
    },
  });

  return { session, downloadModel, uploadUpdate, submitEvaluation, downloadBlob } as grpc.UntypedServiceImplementation;
}
