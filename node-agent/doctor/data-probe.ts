import { join } from 'node:path';
import type { DataSpec } from '../../shared/data/index.js';
import { failed, guarded, passed, type DoctorCheck } from './check.js';

/**
 * Reads the site's data exactly as the agent will (same reader, same cache folder) and counts it.
 * Loaded lazily: the readers pull in decoders that the other checks do not need.
 */
export const DATA_CHECK = 'data source readable';
export const DATA_FIX = 'check data.source (and data.labels) and that this user may read them; `medley data inspect --data SOURCE` shows what is read and skipped';

export function checkData(data: DataSpec, state: string): Promise<DoctorCheck> {
  const name = DATA_CHECK;
  return guarded(
    name,
    async () => {
      const { readSiteData } = await import('../../shared/data/index.js');
      const skipped: string[] = [];
      const site = await readSiteData({ ...data, cacheDir: join(state, 'data-cache') }, { log: (m) => skipped.push(m) });
      if (site.train.count === 0) return failed(name, `${site.source}: no labelled training images`, 'check data.source and data.labels with `medley data inspect --data SOURCE`');
      const notes = skipped.length > 0 ? `; ${skipped[skipped.length - 1]}` : '';
      return passed(name, `${site.source}: ${site.train.count} training, ${site.val.count} validation images${notes}`);
    },
    DATA_FIX,
  );
}

/** The TensorFlow.js backend that loads here, and whether it drives a GPU. Which one loads is information, not a failure, unless none does. */
export function checkBackend(): Promise<DoctorCheck> {
  const name = 'TensorFlow.js backend';
  return guarded(
    name,
    async () => {
      const { selectBackend } = await import('../../shared/model/index.js');
      const report = await selectBackend();
      const gpu = report.package === '@tensorflow/tfjs-node-gpu';
      const tried = report.tried.length > 0 ? `; not loaded: ${report.tried.map((t) => t.name).join(', ')}` : '';
      return passed(name, `${report.name} from ${report.package} (${gpu ? 'GPU (CUDA)' : 'no GPU'})${tried}`);
    },
    'reinstall the agent (`npm ci`) so at least @tensorflow/tfjs-backend-cpu is present; MEDLEY_BACKEND forces a backend that may be missing',
  );
}
