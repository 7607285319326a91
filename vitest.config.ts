// Test tiers (STYLE.md 14): unit tests sit next to the code or in test/unit and use fakes;
// integration tests in test/integration use the real kernel and the real API server.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Kernel tests share tracefs and network namespaces; the API-server tests share one
          // control plane. Run files one at a time so they cannot disturb each other.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
          globalSetup: ['test/integration/global-setup.ts'],
        },
      },
    ],
  },
});
