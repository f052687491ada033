import { z } from 'zod';
import type { TensorSpec } from '../../shared/wire/index.js';

/** Describes one stored global model version; the weights live beside it in weights.bin. */
export interface ModelManifest {
  formatVersion: 1;
  version: number;
  /** The version this one was aggregated from (null for the initial model). */
  parent: number | null;
  /** The round that produced it (null for the initial model). */
  round: number | null;
  createdAt: string;
  /** Architecture description (arch, input shape, classes) — opaque to the coordinator. */
  spec: Record<string, unknown>;
  /** TF.js LayersModel topology — opaque to the coordinator, handed to agents. */
  topology: Record<string, unknown>;
  tensors: TensorSpec[];
  totalBytes: number;
  sha256: string;
}

const tensorSpecSchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.literal('float32'),
  offset: z.number().int().nonnegative(),
  byteLength: z.number().int().nonnegative(),
});

export const modelManifestSchema = z.object({
  formatVersion: z.literal(1),
  version: z.number().int().positive(),
  parent: z.number().int().positive().nullable(),
  round: z.number().int().positive().nullable(),
  createdAt: z.string(),
  spec: z.record(z.string(), z.unknown()),
  topology: z.record(z.string(), z.unknown()),
  tensors: z.array(tensorSpecSchema),
  totalBytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export function parameterCount(manifest: Pick<ModelManifest, 'totalBytes'>): number {
  return manifest.totalBytes / 4;
}
