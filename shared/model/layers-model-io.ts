import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

/*
 * Reading and writing TF.js Layers models on local disk with the pure-JS tfjs (the `file://` handler
 * lives in tfjs-node, which may not be installed). Sites load pretrained models from their own disk;
 * nothing here touches the network.
 */

const BYTES: Record<string, number> = { float32: 4, int32: 4, float16: 2, uint16: 2, uint8: 1, bool: 1 };

function modelJsonPath(dirOrModelJsonPath: string): string {
  if (existsSync(dirOrModelJsonPath) && statSync(dirOrModelJsonPath).isDirectory()) {
    return path.join(dirOrModelJsonPath, 'model.json');
  }
  return dirOrModelJsonPath;
}

function specBytes(spec: tf.io.WeightsManifestEntry): number {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const per = BYTES[dtype];
  if (per === undefined) throw new Error(`weight ${spec.name} has unsupported dtype ${dtype}`);
  return spec.shape.reduce((a, b) => a * b, 1) * per;
}

async function readModelJson(file: string): Promise<tf.io.ModelJSON> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : `cannot be read (${(err as Error).message})`;
    throw new Error(
      `${file} ${why}: point at a directory holding a TF.js Layers model (model.json plus its .bin weight files), ` +
        `as written by model.save() or tensorflowjs_converter --output_format=tfjs_layers_model`,
    );
  }
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text) as tf.io.ModelJSON;
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}); re-export the model, the file looks truncated or corrupt`);
  }
  if (json == null || typeof json !== 'object' || json.modelTopology == null) {
    throw new Error(`${file} has no modelTopology: it is not a TF.js model.json`);
  }
  if (json.format === 'graph-model' || 'node' in (json.modelTopology as object)) {
    throw new Error(
      `${file} is a TF.js graph model, which cannot be trained; convert the Keras model with ` +
        `tensorflowjs_converter --output_format=tfjs_layers_model instead`,
    );
  }
  if (!Array.isArray(json.weightsManifest)) throw new Error(`${file} has no weightsManifest listing its weight files`);
  return json;
}

/** A tfjs IOHandler that reads model.json and its weight shards with fs. */
export function fileSystemLoadHandler(dirOrModelJsonPath: string): tf.io.IOHandler {
  const file = modelJsonPath(dirOrModelJsonPath);
  return {
    load: async () => {
      const json = await readModelJson(file);
      const dir = path.dirname(file);
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: Uint8Array[] = [];
        for (const group of manifest) {
          const groupBuffers: Uint8Array[] = [];
          for (const p of group.paths) {
            const shard = path.resolve(dir, p);
            try {
              groupBuffers.push(await readFile(shard));
            } catch {
              throw new Error(`weight file ${shard}, listed in ${file}, is missing or unreadable: copy every .bin file next to model.json`);
            }
          }
          const expected = group.weights.reduce((s, w) => s + specBytes(w), 0);
          const actual = groupBuffers.reduce((s, b) => s + b.byteLength, 0);
          if (actual !== expected) {
            throw new Error(
              `weight files ${group.paths.join(', ')} hold ${actual} bytes but ${file} describes ${expected}: ` +
                `the weights do not belong to this model.json or a file is truncated`,
            );
          }
          specs.push(...group.weights);
          buffers.push(...groupBuffers);
        }
        const joined = new Uint8Array(buffers.reduce((s, b) => s + b.byteLength, 0));
        let off = 0;
        for (const b of buffers) {
          joined.set(b, off);
          off += b.byteLength;
        }
        return [specs, joined.buffer];
      });
    },
  };
}

/** Loads a TF.js Layers model from a directory (or a model.json path) on local disk. */
export async function loadLayersModelFromDir(dirOrModelJsonPath: string): Promise<tf.LayersModel> {
  const file = modelJsonPath(dirOrModelJsonPath);
  try {
    return await tf.loadLayersModel(fileSystemLoadHandler(file));
  } catch (err) {
    const message = (err as Error).message;
    if (message.startsWith(file) || message.includes('weight file')) throw err;
    throw new Error(`could not build a Layers model from ${file}: ${message}`);
  }
}

/** Writes `model` as model.json + group1-shard1of1.bin into `dir` (created if needed). */
export async function saveLayersModelToDir(model: tf.LayersModel, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const handler: tf.io.IOHandler = {
    save: async (artifacts) => {
      const weightsFile = 'group1-shard1of1.bin';
      const data = tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? new ArrayBuffer(0));
      const manifest: tf.io.WeightsManifestConfig = [{ paths: [weightsFile], weights: artifacts.weightSpecs ?? [] }];
      const json: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        weightsManifest: manifest,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: artifacts.convertedBy ?? null,
      };
      if (artifacts.trainingConfig) json.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata) json.userDefinedMetadata = artifacts.userDefinedMetadata;
      await writeFile(path.join(dir, weightsFile), new Uint8Array(data));
      await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: data.byteLength,
        },
      };
    },
  };
  await model.save(handler);
}

/** Rebuilds an (untrained-weights) model from `model.toJSON(null, false)` output or a model.json object. */
export async function modelFromTopology(topologyJson: object): Promise<tf.LayersModel> {
  const t = topologyJson as Record<string, unknown>;
  const modelTopology = 'modelTopology' in t ? t.modelTopology : t;
  if (modelTopology == null || typeof modelTopology !== 'object' || !('class_name' in (modelTopology as object))) {
    throw new Error('model topology must be the object from model.toJSON(null, false) (with class_name and config)');
  }
  return tf.models.modelFromJSON({ modelTopology } as unknown as tf.io.ModelJSON);
}

export interface NamedWeight {
  name: string;
  shape: number[];
  dtype: 'float32';
  data: Float32Array;
}

/**
 * Stable name of a weight. tfjs suffixes `name` with _1, _2... when a process builds the same
 * architecture twice; `originalName` is what the topology itself says, identical in every process.
 */
export function weightName(w: tf.LayerVariable): string {
  return (w as unknown as { originalName?: string }).originalName ?? w.name;
}

/** Every weight (trainable and not, e.g. batch-norm moving statistics) in `model.weights` order. */
export function getNamedWeights(model: tf.LayersModel): NamedWeight[] {
  return model.weights.map((w) => ({
    name: weightName(w),
    shape: [...w.shape] as number[],
    dtype: 'float32' as const,
    data: Float32Array.from(w.read().dataSync() as Float32Array),
  }));
}

/** Sets all weights from `named` (same order as getNamedWeights); throws on any name or shape mismatch. */
export function setNamedWeights(model: tf.LayersModel, named: readonly NamedWeight[]): void {
  const weights = model.weights;
  if (named.length !== weights.length) {
    throw new Error(`model has ${weights.length} weight tensors but ${named.length} were given; the weights belong to a different architecture`);
  }
  named.forEach((n, i) => {
    const w = weights[i];
    const expected = weightName(w);
    if (n.name !== expected && n.name !== w.name) {
      throw new Error(`weight ${i} is named ${n.name} but the model's is ${expected}; the weights belong to a different architecture`);
    }
    if (n.shape.length !== w.shape.length || n.shape.some((d, j) => d !== w.shape[j])) {
      throw new Error(`weight ${expected} has shape [${n.shape.join(',')}] but the model expects [${w.shape.join(',')}]`);
    }
    const size = n.shape.reduce((a, b) => a * b, 1);
    if (n.data.length !== size) throw new Error(`weight ${expected} has ${n.data.length} values, its shape needs ${size}`);
  });
  const tensors = named.map((n) => tf.tensor(n.data, n.shape, 'float32'));
  try {
    model.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}
