// vitest settings: separate processes (native addon and real servers), generous timeouts for a 2-core machine.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Tests start servers and ORT sessions; two files at once is what 2 cores sustain without starving either.
    maxWorkers: 2,
  },
});
