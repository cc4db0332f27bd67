import { applyD1Migrations, type D1Migration, env } from 'cloudflare:test';

// Every worker test file starts with the D1 schema of migrations/ (applying is idempotent). The
// migrations come from vitest.config.mts as a test-only binding, kept out of the worker's own types.
const { TEST_MIGRATIONS } = env as unknown as { TEST_MIGRATIONS: D1Migration[] };
await applyD1Migrations(env.DB, TEST_MIGRATIONS);
