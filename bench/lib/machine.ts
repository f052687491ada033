import { availableParallelism, cpus, totalmem } from 'node:os';

export interface MachineInfo {
  cores: number;
  node: string;
  backend: string;
  gpu: null;
  cpu: string;
  memory_gib: number;
}

/**
 * The machine the figures come from. The backend is the TF.js backend Medley would pick here
 * (only the training benchmark uses it); loading it is left to the end of the run so TF.js never
 * shares the process with the other benchmarks.
 */
export async function machineInfo(log: (s: string) => void): Promise<MachineInfo> {
  let backend = 'n/a';
  try {
    const model = (await import('../../shared/model/index.js')) as { selectBackend?: () => Promise<{ name: string }> };
    if (typeof model.selectBackend === 'function') backend = (await model.selectBackend()).name;
  } catch (err) {
    log(`machine: no TF.js backend (${(err as Error).message.split('\n')[0]})`);
  }
  return {
    cores: availableParallelism(),
    node: process.version,
    backend,
    gpu: null,
    cpu: cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
  };
}
