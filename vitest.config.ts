import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Training and multi-process federation tests are CPU-bound; two cores is the CI machine.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
