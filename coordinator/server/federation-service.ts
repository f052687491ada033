import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import {
  CHUNK_BYTES,
  InvalidUpdateError,
  PROTOCOL_VERSION,
  TENSOR_FORMAT_VERSION,
  TruncatedStreamError,
  UnknownSiteError,
  toServiceError,
  writeMessage,
  type AgentMessage,
  type CoordinatorMessage,
  type ModelChunk,
  type ModelRequest,
  type UpdateChunk,
  type UploadReceipt,
} from '../../shared/wire/index.js';
import type { UpdateReceiver } from '../ingest/index.js';
import { failStream } from './fail-stream.js';
import type { RunController, RoundEvents, SiteSession, SiteSessions } from '../rounds/index.js';
import type { ModelStore, SiteRegistry } from '../store/index.js';

export interface FederationServiceDeps {
  federation: string;
  store: ModelStore;
  registry: SiteRegistry;
  sessions: SiteSessions;
  controller: RunController;
  receiver: UpdateReceiver;
  events: RoundEvents;
  log: (message: string) => void;
}

function notOnList(site: string): UnknownSiteError {
  return new UnknownSiteError(
    `site "${site}" is not on this federation's site list; the coordinator's operator can add it with \`medley site add --dir STATE --name ${site}\``,
  );
}

/** The service agents dial: control session, model download, update upload. */
export function federationService(deps: FederationServiceDeps): grpc.UntypedServiceImplementation {
  const { store, registry, sessions, controller, receiver, events, log } = deps;

  function session(call: grpc.ServerDuplexStream<AgentMessage, CoordinatorMessage>): void {
    let current: SiteSession | null = null;
    const end = (err?: unknown) => {
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
    call.on('data', (message: AgentMessage) => {
      try {
        if (message.body === 'hello' && 'hello' in message) {
          const hello = message.hello;
          if (current) throw new InvalidUpdateError('a session says hello only once');
          if (!registry.has(hello.site)) throw notOnList(hello.site);
          if (hello.protocolVersion !== PROTOCOL_VERSION) {
            throw new InvalidUpdateError(`agent speaks protocol ${hello.protocolVersion}, this coordinator ${PROTOCOL_VERSION}; upgrade the older side`);
          }
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
            close: (reason) => {
              log(`closing session of ${hello.site}: ${reason}`);
              call.end();
            },
          };
          call.write({ welcome: { federation: deps.federation, sessionId, modelVersion: store.latest, protocolVersion: PROTOCOL_VERSION } });
          sessions.register(current);
          log(`site ${hello.site} connected (backend ${hello.backend}, ${hello.trainExamples} training examples)`);
          return;
        }
        if (!current) throw new InvalidUpdateError('an agent must say hello before anything else on its session');
        current.lastSeen = Date.now();
        if (message.body === 'progress' && 'progress' in message) {
          events.publish({ kind: 'progress', round: message.progress.round, site: current.site, message: message.progress.message, progress: message.progress, record: null });
        }
      } catch (err) {
        log(`session refused: ${(err as Error).message}`);
        end(err);
      }
    });
    call.on('end', () => end());
    call.on('error', () => end());
    call.on('cancelled', () => end());
  }

  async function downloadModel(call: grpc.ServerWritableStream<ModelRequest, ModelChunk>): Promise<void> {
    const request = call.request;
    try {
      if (!registry.has(request.site)) throw notOnList(request.site);
      const version = request.version || store.latest;
      const manifest = await store.manifest(version);
      if (request.offset < 0 || request.offset > manifest.totalBytes || request.offset % 4 !== 0) {
        throw new InvalidUpdateError(`download offset ${request.offset} is outside model version ${version} (${manifest.totalBytes} bytes)`);
      }
      await writeMessage(call, {
        header: {
          version,
          topologyJson: JSON.stringify(manifest.topology),
          specJson: JSON.stringify(manifest.spec),
          tensors: manifest.tensors,
          totalBytes: manifest.totalBytes,
          sha256: manifest.sha256,
          offset: request.offset,
          formatVersion: TENSOR_FORMAT_VERSION,
        },
      });
      let sent = 0;
      for await (const chunk of store.readWeights(version, request.offset, CHUNK_BYTES)) {
        if (call.cancelled) return;
        await writeMessage(call, { data: chunk });
        sent += chunk.length;
        controller.noteDownload(request.site, chunk.length);
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
        if (chunk.body === 'header' && 'header' in chunk && !registry.has(chunk.header.site)) throw notOnList(chunk.header.site);
        yield chunk;
      }
    })();
    receiver
      .receive(guarded)
      .then((receipt) => {
        events.publish({ kind: 'update-accepted', round: receipt.round, site: '', message: receipt.message, record: null });
        callback(null, receipt);
      })
      .catch((err: unknown) => {
        const status = toServiceError(err);
        log(`update refused: ${status.details}`);
        events.publish({ kind: 'update-rejected', round: controller.openRound?.number ?? 0, site: '', message: status.details ?? '', record: null });
        callback(status, null);
      });
  }

  return { session, downloadModel, uploadUpdate } as grpc.UntypedServiceImplementation;
}
