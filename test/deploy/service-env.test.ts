import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVICE_MALLOC_ENV } from '../../bench/lib/service-env.js';

/** The soak benchmark measures memory with the malloc settings the deploy files give the services: they must stay the same. */
describe('service malloc settings', () => {
  const wanted = Object.entries(SERVICE_MALLOC_ENV).map(([k, v]) => `${k}=${v}`);

  it.each(['deploy/systemd/medley-coordinator.service', 'deploy/systemd/medley-agent.service'])('%s sets them with Environment=', (file) => {
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('Environment='));
    const set = lines.flatMap((l) => l.slice('Environment='.length).split(/\s+/));
    for (const pair of wanted) expect(set, `${file}: ${pair}`).toContain(pair);
  });

  it('the image sets them with ENV (compose and the Helm chart run the image)', () => {
    const lines = readFileSync('deploy/docker/Dockerfile', 'utf8').split('\n').filter((l) => l.startsWith('ENV '));
    const set = lines.flatMap((l) => l.slice('ENV '.length).split(/\s+/));
    for (const pair of wanted) expect(set, pair).toContain(pair);
  });
});
