import { existsSync, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import {
  ARCHITECTURES, buildModel, loadLayersModelFromDir, modelFromTopologyJson, parseArchitecture, saveLayersModelToDir, writeFlatWeights,
} from '../../shared/model/index.js';
import type { DownloadedModel } from '../connection/coordinator-client.js';

/**
 * The site's own model for federated distillation, whatever its architecture: it never leaves the
 * site (only its soft labels on the transfer set do) and it is kept across rounds, on disk in
 * STATE/local-model when the agent has a state folder. Where it starts from (`agent run
 * --local-model`): a zoo architecture built for the global model's input and classes, a folder
 * with a TF.js model.json (a pretrained network of the site's choosing), or, when not given, a copy
 * of the global model.
 */
export class LocalModel {
  private net: tf.LayersModel | null = null;

  constructor(private readonly choice: string | undefined, private readonly stateDir: string | undefined, private readonly site = '') {
    if (choice !== undefined) checkLocalModelChoice(choice);
  }

  private get dir(): string | undefined {
    return this.stateDir === undefined ? undefined : join(this.stateDir, 'local-model');
  }

  /** Where the model is kept between rounds, for logs. */
  describe(): string {
    return `${this.choice ?? 'a copy of the global model'}${this.dir ? `, kept in ${this.dir}` : ''}`;
  }

  /** The model as the last round left it, or a new one made from the choice and the global model's spec. */
  async load(global: DownloadedModel): Promise<tf.LayersModel> {
    if (this.net) return this.net;
    const dir = this.dir;
    if (dir && existsSync(join(dir, 'model.json'))) {
      this.net = await loadLayersModelFromDir(dir);
      return this.net;
    }
    const choice = this.choice;
    if (choice === undefined) {
      const net = await modelFromTopologyJson(global.topology);
      writeFlatWeights(net, global.header.tensors, global.weights);
      this.net = net;
    } else if (isDirectory(choice) || choice.endsWith('.json')) {
      this.net = await loadLayersModelFromDir(choice);
    } else {
      const spec = global.spec as { inputShape: [number, number, number]; classes: number; task?: string };
      // Seeded by the site's name: two sites choosing the same architecture start apart, as real sites would.
      this.net = buildModel({ arch: parseArchitecture(choice), inputShape: spec.inputShape, classes: spec.classes, ...(spec.task ? { task: spec.task as never } : {}) }, seedOf(this.site));
    }
    return this.net;
  }

  /** Writes the model to STATE/local-model (a whole new folder, swapped in): a crash leaves the old one or the new one. */
  async save(): Promise<void> {
    const dir = this.dir;
    if (!dir || !this.net) return;
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await saveLayersModelToDir(this.net, tmp);
    await rm(`${dir}.old`, { recursive: true, force: true });
    if (existsSync(dir)) await rename(dir, `${dir}.old`);
    await rename(tmp, dir);
    await rm(`${dir}.old`, { recursive: true, force: true });
  }

  dispose(): void {
    this.net?.dispose();
    this.net = null;
  }
}

/** Refuses a --local-model that is neither a zoo architecture nor a TF.js model folder, naming both forms. */
export function checkLocalModelChoice(choice: string): void {
  if (isDirectory(choice) || (choice.endsWith('.json') && existsSync(choice))) return;
  if ((ARCHITECTURES as readonly string[]).includes(choice.trim().toLowerCase())) return;
  throw new Error(`--local-model ${choice}: give a zoo architecture (${ARCHITECTURES.join(', ')}) or a folder holding a TF.js model.json`);
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** A 32-bit seed from a site name (FNV-1a). */
function seedOf(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
