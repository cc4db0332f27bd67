import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// D1 migrations (migrations/) are read here and applied by test/worker/setup.ts before any test.
const migrations = await readD1Migrations(fileURLToPath(new URL('./migrations', import.meta.url)));

// `npm run fuzz` (scripts/fuzz.mjs) sizes and seeds the fuzz properties; workerd sees no process.env,
// so they travel as bindings (test/worker/helpers/fuzz.ts). Unset, the properties keep their fixed seed and sizes.
const fuzz = Object.fromEntries(['FUZZ_RUNS', 'FUZZ_SEED'].flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])));

// Two projects: `worker` runs unit and route tests inside workerd; `e2e` runs in Node and drives
// real processes (wrangler dev, openssl, the official SDKs, Chromium) against stand-in providers.
export default defineConfig({
  test: {
    // The JSON report feeds the one-line summary that .ci/run prints.
    reporters: ['default', ['json', { outputFile: 'test-results/vitest.json' }]],
    projects: [
      {
        plugins: [
          cloudflareTest({
            main: './src/index.ts',
            wrangler: { configPath: './wrangler.jsonc' },
            miniflare: {
              cf: false,
              // Leases live 250 ms and settles go at once (not batched over SETTLE_INTERVAL_MS), so a test that
              // waits for a request's waitUntil is not held for a lease's whole life; the lease tests set their own.
              bindings: {
                AI_JSON_CRYPTOKEN: 'test-vault-token',
                DEBUG: 'false',
                TEST_MIGRATIONS: migrations,
                LEASE_MS: '250',
                SETTLE_INTERVAL_MS: '0',
                ...fuzz,
              },
              // A database no migration was applied to: the worker's own schema step is tested on it.
              d1Databases: { FRESH_DB: 'fresh-db' },
            },
          }),
        ],
        // Worker tests never see a vault that `npm run dev` or a developer's src/config embedded:
        // they get a module whose fallback vault each test sets itself.
        resolve: {
          alias: [{ find: /^.*\/generated\/embedded-vault$/, replacement: fileURLToPath(new URL('./test/worker/helpers/embedded-vault.ts', import.meta.url)) }],
        },
        test: { name: 'worker', include: ['test/worker/**/*.test.ts', 'src/**/*.test.ts'], setupFiles: ['./test/worker/setup.ts'] },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
