/**
 * The glibc malloc settings Medley's service definitions give the coordinator and the agent
 * (deploy/systemd/*.service `Environment=`, deploy/docker/Dockerfile `ENV`, which compose and the
 * Helm chart inherit through the image). The soak benchmark runs its processes with them, so it
 * measures memory as a deployment has it.
 *
 * Why: a Node service allocates Buffers from several threads (gRPC, the ingest and fold workers,
 * TF.js), and glibc gives each thread its own arena and keeps freed blocks for reuse. In the soak
 * (200 rounds) the coordinator's RSS then rose and fell by 10-15 MiB over tens of rounds while its
 * live memory stayed flat, and its RSS slope over rounds 101-200 came out 0.058, 0.072 and 0.029
 * MiB/round in three runs (bound 0.03); with these settings 0.013 and -0.021, at a level about
 * 30 MiB lower. test/deploy/service-env.test.ts checks the deploy files carry the same values.
 *
 * The mmap threshold is 4 MiB, above the 1 MiB update chunks: at 128 KiB every chunk buffer (each
 * gRPC message, each decrypted chunk) was a fresh mmap, zeroed page by page and unmapped when
 * collected. Decrypting 1 MiB chunks in a loop, each from a fresh buffer as the ingest worker gets
 * them, took 2.96 ms of CPU per chunk (2.1 of it in the kernel) with 128 KiB, 0.98 with glibc's
 * defaults and 1.12 with 4 MiB. The `ingest` benchmark runs the coordinator and its peer with
 * these settings too.
 */
export const SERVICE_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_TRIM_THRESHOLD_: '131072',
  MALLOC_MMAP_THRESHOLD_: '4194304',
};
