import * as grpc from '@grpc/grpc-js';
import { SEALING_SCHEME, UpdateSealer, sealEvaluation, verifyBlob, verifyModel, type EvaluationBinding, type Identity } from '../../shared/crypto/index.js';
import {
  AuthenticationError,
  CHANNEL_OPTIONS,
  CHUNK_BYTES,
  InvalidUpdateError,
  TENSOR_FORMAT_VERSION,
  TransferDigest,
  TruncatedStreamError,
  chunksOf,
  uploadGoAhead,
  medleyPackage,
  type InProcessClient,
  writeMessage,
  type AgentMessage,
  type BlobChunk,
  type CoordinatorMessage,
  type ModelChunk,
  type ModelHeader,
  type UpdateHeader,
  type UpdateReport,
  type UploadReceipt,
} from '../../shared/wire/index.js';

/** A global model as the agent holds it: layout plus all weight bytes. */
export interface DownloadedModel {
  version: number;
  topology: Record<string, unknown>;
  spec: Record<string, unknown>;
  header: ModelHeader;
  weights: Float32Array;
}

type ServiceClient = { close(): void } & Record<string, (...args: unknown[]) => unknown>;

/**
 * How long a new control session may take to be welcomed before the agent gives the connection up
 * and dials afresh (CoordinatorClient.redial). A link that stalls needs this bound: see redial.
 */
export const HANDSHAKE_TIMEOUT_MS = 20_000;

/**
 * The agent's channel options: the shared ones (keepalive pings every 20 s, a link that does not
 * answer one within 10 s is dropped, so a stalled link is noticed within half a minute even mid-
 * upload), and a channel of its own: grpc-js otherwise shares connections between channels to the
 * same address, and redial() could get the stuck connection back.
 */
const AGENT_CHANNEL_OPTIONS: grpc.ChannelOptions = { ...CHANNEL_OPTIONS, 'grpc.use_local_subchannel_pool': 1 };

/** What left the site with one upload, for the audit log. */
export interface SentUpdate {
  receipt: UploadReceipt;
  /** SHA-256 of the sealed payload (every ciphertext chunk, in order), hex. */
  sha256: string;
  bytes: number;
}

/**
 * The agent's side of the wire. Every call is outbound: the coordinator never dials a site.
 * Updates leave sealed to the coordinator's key and signed with the site's; models arrive signed
 * by the coordinator and are checked against the key the site pinned.
 */
export class CoordinatorClient {
  private client: ServiceClient;
  /** Makes a fresh channel to the dialled address; null for an in-process client. */
  private readonly dial: (() => ServiceClient) | null = null;
  /** The dialled address, or the in-process client's name. */
  readonly address: string;

  /**
   * `coordinator` is an address to dial, or a Federation client already bound to a coordinator
   * (Coordinator.inProcessClients().federation, for simulations); the client is this object's to close.
   */
  constructor(
    coordinator: string | InProcessClient,
    private readonly keys: { site: Identity; coordinator: Uint8Array },
    credentials = grpc.credentials.createInsecure(),
  ) {
    if (typeof coordinator === 'string') {
      const Federation = medleyPackage().Federation;
      this.address = coordinator;
      this.dial = () => new Federation(coordinator, credentials, AGENT_CHANNEL_OPTIONS) as unknown as ServiceClient;
      this.client = this.dial();
      return;
    }
    for (const method of ['session', 'downloadModel', 'uploadUpdate']) {
      if (typeof coordinator[method] !== 'function') {
        throw new TypeError(`${coordinator.target} is not a Federation client (it has no ${method}); pass Coordinator.inProcessClients().federation`);
      }
    }
    this.address = coordinator.target;
    this.client = coordinator as unknown as ServiceClient;
  }

  /**
   * Drops the channel (every call on it fails) and dials afresh. Once TCP is up, grpc-js waits for
   * the server's HTTP/2 settings with no time limit: on a link that stalls (the connection accepted,
   * nothing coming back) that attempt hangs for good, and every call waits on it. Keepalive pings
   * only start once it completes. The agent calls this when a session is not welcomed in time.
   */
  /** True for a dialled coordinator (redial does something); false for an in-process client. */
  get redialable(): boolean {
    return this.dial !== null;
  }

  redial(): void {
    if (!this.dial) return;
    this.client.close();
    this.client = this.dial();
  }

  openSession(): grpc.ClientDuplexStream<AgentMessage, CoordinatorMessage> {
    return (this.client.session as () => grpc.ClientDuplexStream<AgentMessage, CoordinatorMessage>).call(this.client);
  }

  /**
   * Downloads a model version. `resume` carries the bytes of an earlier, interrupted attempt at the
   * same version: the download continues from where it stopped instead of starting over.
   */
  async downloadModel(
    request: { federation: string; version: number; site: string; sessionId: string },
    onBytes: (received: number, total: number) => void,
    resume?: { version: number; weights: Uint8Array; received: number },
  ): Promise<DownloadedModel> {
    const offset = resume && resume.version === request.version ? resume.received : 0;
    const call = (this.client.downloadModel as (req: unknown) => grpc.ClientReadableStream<ModelChunk>).call(this.client, { ...request, offset });
    let header: ModelHeader | null = null;
    let bytes: Uint8Array | null = offset > 0 ? resume!.weights : null;
    let received = offset;
    let trailerSeen = false;
    // Hashed as the bytes arrive (the resumed prefix first), so checking a 200 MB model does not
    // add a pass over it after the last chunk.
    let digest: TransferDigest | null = null;
    const progress = { version: request.version, weights: bytes ?? new Uint8Array(0), received };
    try {
      for await (const chunk of call as AsyncIterable<ModelChunk>) {
        if (chunk.body === 'header' && 'header' in chunk) {
          header = chunk.header;
          if (header.formatVersion !== TENSOR_FORMAT_VERSION) {
            throw new InvalidUpdateError(`coordinator sends tensor format ${header.formatVersion}; this agent reads ${TENSOR_FORMAT_VERSION}. Upgrade the agent`);
          }
          if (!bytes || bytes.byteLength !== header.totalBytes) {
            bytes = new Uint8Array(header.totalBytes);
            received = 0;
          }
          digest = new TransferDigest();
          if (received > 0) digest.update(bytes.subarray(0, received));
          progress.version = header.version;
          progress.weights = bytes;
        } else if (chunk.body === 'data' && 'data' in chunk) {
          if (!header || !bytes) throw new InvalidUpdateError('model stream sent data before its header');
          if (received + chunk.data.length > bytes.byteLength) throw new InvalidUpdateError('model stream sent more bytes than its header announced');
          bytes.set(chunk.data, received);
          digest!.update(chunk.data);
          received += chunk.data.length;
          progress.received = received;
          onBytes(received, header.totalBytes);
        } else if (chunk.body === 'trailer') {
          trailerSeen = true;
        }
      }
    } catch (err) {
      throw Object.assign(err as Error, { resume: progress });
    }
    if (!header || !bytes) throw new TruncatedStreamError('model stream ended before its header');
    if (!trailerSeen || received !== header.totalBytes) {
      throw Object.assign(new TruncatedStreamError(`model stream ended after ${received} of ${header.totalBytes} bytes`), { resume: progress });
    }
    const actual = digest!.hex();
    if (actual !== header.sha256) {
      throw new InvalidUpdateError(`model version ${header.version} arrived with sha256 ${actual}, expected ${header.sha256}; it will be downloaded again`);
    }
    const signed = verifyModel(
      this.keys.coordinator,
      { federation: header.federation, version: header.version, sha256: header.sha256, totalBytes: header.totalBytes, topologyJson: header.topologyJson, specJson: header.specJson, tensors: header.tensors },
      new Uint8Array(header.signature ?? []),
    );
    if (!signed || header.federation !== request.federation) {
      throw new AuthenticationError(`model version ${header.version} is not signed by the coordinator key this site trusts (or is for another federation); it was not used`);
    }
    return {
      version: header.version,
      topology: JSON.parse(header.topologyJson) as Record<string, unknown>,
      spec: JSON.parse(header.specJson) as Record<string, unknown>,
      header,
      weights: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4),
    };
  }

  /**
   * Downloads a distillation blob (transfer set, aggregated soft labels) by its SHA-256 and checks
   * it: the bytes must hash to the name the task gave, and the header must be signed by the pinned
   * coordinator key for this federation and the expected kind. `resume` holds the bytes of an
   * interrupted attempt: the download continues from there.
   */
  async downloadBlob(
    request: { federation: string; site: string; sessionId: string; sha256: string; kind: string },
    onBytes: (received: number, total: number) => void,
    resume?: { sha256: string; bytes: Uint8Array; received: number },
  ): Promise<Uint8Array> {
    const download = this.client.downloadBlob as ((req: unknown) => grpc.ClientReadableStream<BlobChunk>) | undefined;
    if (typeof download !== 'function') throw new TypeError(`${this.address} does not offer DownloadBlob; upgrade the coordinator`);
    const offset = resume && resume.sha256 === request.sha256 ? resume.received : 0;
    const call = download.call(this.client, { federation: request.federation, site: request.site, sessionId: request.sessionId, sha256: request.sha256, offset });
    let bytes: Uint8Array | null = offset > 0 ? resume!.bytes : null;
    let received = offset;
    let total = -1;
    let signature: Uint8Array | null = null;
    let kind = '';
    let trailerSeen = false;
    const progress = { sha256: request.sha256, bytes: bytes ?? new Uint8Array(0), received };
    try {
      for await (const chunk of call as AsyncIterable<BlobChunk>) {
        if (chunk.body === 'header' && 'header' in chunk) {
          const h = chunk.header;
          if (h.sha256 !== request.sha256 || h.federation !== request.federation) throw new InvalidUpdateError(`the coordinator answered a request for blob ${request.sha256} with blob ${h.sha256} of federation ${h.federation}`);
          total = h.totalBytes;
          if (!bytes || bytes.byteLength !== total || h.offset !== received) {
            bytes = new Uint8Array(total);
            received = 0;
            if (h.offset !== 0) throw new InvalidUpdateError(`blob ${request.sha256} restarted at byte ${h.offset}; expected ${received}`);
          }
          signature = new Uint8Array(h.signature ?? []);
          kind = h.kind;
          progress.bytes = bytes;
        } else if (chunk.body === 'data' && 'data' in chunk) {
          if (!bytes) throw new InvalidUpdateError('blob stream sent data before its header');
          if (received + chunk.data.length > bytes.byteLength) throw new InvalidUpdateError('blob stream sent more bytes than its header announced');
          bytes.set(chunk.data, received);
          received += chunk.data.length;
          progress.received = received;
          onBytes(received, total);
        } else if (chunk.body === 'trailer') {
          trailerSeen = true;
        }
      }
    } catch (err) {
      throw Object.assign(err as Error, { resume: progress });
    }
    if (!bytes || !signature) throw new TruncatedStreamError(`blob ${request.sha256} stream ended before its header`);
    if (!trailerSeen || received !== total) throw Object.assign(new TruncatedStreamError(`blob ${request.sha256} stream ended after ${received} of ${total} bytes`), { resume: progress });
    const actual = new TransferDigest();
    actual.update(bytes);
    if (actual.hex() !== request.sha256) throw new InvalidUpdateError(`blob ${request.sha256} arrived with sha256 ${actual.hex()}; it will be downloaded again`);
    if (kind !== request.kind || !verifyBlob(this.keys.coordinator, { federation: request.federation, kind, sha256: request.sha256, totalBytes: total }, signature)) {
      throw new AuthenticationError(`blob ${request.sha256} (${kind}, expected ${request.kind}) is not signed by the coordinator key this site trusts; it was not used`);
    }
    return bytes;
  }

  /**
   * Streams one sealed update: header (with the sealed key and the site's signature), encrypted
   * chunks with backpressure, then the trailer carrying the encrypted report and the final
   * signature. Each attempt seals afresh (new key), so a retry never repeats ciphertext.
   */
  async uploadUpdate(
    header: Omit<UpdateHeader, 'totalBytes' | 'formatVersion' | 'scheme' | 'sealedKey' | 'headerSignature'>,
    payload: Uint8Array,
    report: UpdateReport,
    onBytes: (sent: number, total: number) => void,
    beforeSend: (sealed: { sha256: string; bytes: number }) => Promise<void> = async () => undefined,
  ): Promise<SentUpdate> {
    const binding = { ...header, totalBytes: payload.byteLength, formatVersion: TENSOR_FORMAT_VERSION };
    const sealer = new UpdateSealer(this.keys.site, this.keys.coordinator, binding);
    const finalPlain = Buffer.from(JSON.stringify(report), 'utf8');
    // Whatever happens to the upload, the site's record of it is written before its first byte leaves.
    await beforeSend(sealer.preview(chunksOf(payload, CHUNK_BYTES), finalPlain));
    let settle!: { resolve: (r: UploadReceipt) => void; reject: (e: Error) => void };
    const done = new Promise<UploadReceipt>((resolve, reject) => (settle = { resolve, reject }));
    const call = (this.client.uploadUpdate as (cb: grpc.requestCallback<UploadReceipt>) => grpc.ClientWritableStream<unknown>).call(
      this.client,
      (err: grpc.ServiceError | null, receipt?: UploadReceipt) => (err ? settle.reject(err) : settle.resolve(receipt!)),
    );
    let sealed: ReturnType<UpdateSealer['finish']>;
    try {
      const goAhead = uploadGoAhead(call);
      await writeMessage(call, {
        header: { ...binding, scheme: SEALING_SCHEME, sealedKey: sealer.sealedKey, headerSignature: sealer.headerSignature },
      });
      // The chunks wait for the coordinator's go-ahead: an upload in its queue then costs it nothing.
      await goAhead;
      let sent = 0;
      for (const chunk of chunksOf(payload, CHUNK_BYTES)) {
        await writeMessage(call, { data: sealer.seal(chunk) });
        sent += chunk.length;
        onBytes(sent, payload.byteLength);
      }
      sealed = sealer.finish(finalPlain);
      await writeMessage(call, { trailer: { sealedFinal: sealed.ciphertext, signature: sealed.signature, chunks: sealed.chunks } });
      call.end();
    } catch (err) {
      // The server may already have refused (its status arrives through the callback): prefer it.
      call.cancel();
      return Promise.race([done, new Promise<never>((_, reject) => setTimeout(() => reject(err), 1000))]).then(() => {
        throw err;
      });
    }
    return { receipt: await done, sha256: sealed.sha256, bytes: sealed.bytes };
  }

  /**
   * Seals and submits an evaluation summary (the JSON body). `beforeSend` sees the sealed body's
   * digest before it leaves, for the audit log. Each attempt seals afresh.
   */
  async submitEvaluation(
    binding: EvaluationBinding,
    body: Uint8Array,
    beforeSend: (sealed: { sha256: string; bytes: number }) => Promise<void> = async () => undefined,
    timeoutMs = 60_000,
  ): Promise<SentUpdate> {
    const sealed = sealEvaluation(this.keys.site, this.keys.coordinator, binding, body);
    await beforeSend({ sha256: sealed.sha256, bytes: sealed.bytes });
    const submit = this.client.submitEvaluation as (request: unknown, options: grpc.CallOptions, cb: grpc.requestCallback<UploadReceipt>) => void;
    if (typeof submit !== 'function') throw new TypeError(`${this.address} does not offer SubmitEvaluation; upgrade the coordinator`);
    const receipt = await new Promise<UploadReceipt>((resolve, reject) => {
      submit.call(this.client, sealed.message, { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res!)));
    });
    return { receipt, sha256: sealed.sha256, bytes: sealed.bytes };
  }

  close(): void {
    this.client.close();
  }
}
