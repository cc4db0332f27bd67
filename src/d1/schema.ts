import { D1_MIGRATIONS } from '../generated/d1-migrations';

// The worker brings D1 to the schema of migrations/ itself, on the first use of D1 in an isolate, so
// a deployment (or a bare `wrangler dev`) serves usage and stored responses before anyone ran
// `wrangler d1 migrations apply`. It keeps wrangler's own record (the table d1_migrations, by file
// name), so either one skips what the other applied.
//
// Each migration is one D1 batch (a transaction) that ends by recording its name, which is UNIQUE:
// when two isolates race, the second's batch fails and is rolled back whole, and it finds the first's
// record. ALTER TABLE is not idempotent, so a migration is never applied outside that batch.

const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS d1_migrations(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT UNIQUE,
  applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)`;

// A value, never a promise (a request must not await another request's I/O): until the schema is
// known to be current, each request that needs D1 checks it (two reads), then none does again.
let current = false;

/** The database, once its schema is current. Throws what D1 threw when it cannot be brought there. */
export async function readyDb(db: D1Database): Promise<D1Database> {
  if (current) return db;
  await applyMigrations(db);
  current = true;
  return db;
}

/** The names of the migrations recorded as applied (none when the table does not exist yet). */
async function appliedNames(db: D1Database): Promise<Set<string>> {
  try {
    const { results } = await db.prepare('SELECT name FROM d1_migrations').all<{ name: string }>();
    return new Set(results.map((row) => row.name));
  } catch {
    await db.prepare(MIGRATIONS_TABLE).run();
    return new Set();
  }
}

/** Applies every migration not yet recorded, in order; returns the names this call applied. */
export async function applyMigrations(db: D1Database): Promise<string[]> {
  const applied = await appliedNames(db);
  const done: string[] = [];
  for (const migration of D1_MIGRATIONS) {
    if (applied.has(migration.name)) continue;
    const record = db.prepare('INSERT INTO d1_migrations (name) VALUES (?1)').bind(migration.name);
    try {
      await db.batch([...migration.statements.map((statement) => db.prepare(statement)), record]);
      done.push(migration.name);
    } catch {
      // Applied by another isolate meanwhile (this batch was rolled back); else a real failure.
      const recorded = await db.prepare('SELECT 1 AS one FROM d1_migrations WHERE name = ?1').bind(migration.name).first();
      if (recorded) continue;
      // Perhaps applied by hand: statement by statement, where anything but "there already" throws.
      await applyEach(db, migration);
      done.push(migration.name);
    }
  }
  return done;
}

/**
 * D1's answer to a statement whose change is there already: a database whose schema was applied by
 * hand (`wrangler d1 execute --file`), which `d1_migrations` does not know.
 */
const ALREADY_THERE = /duplicate column name|already exists/i;
/** A column renamed by hand already: its old name is gone. */
const RENAMED_ALREADY = { statement: /\bRENAME\s+COLUMN\b/i, error: /no such column/i };

/** A migration found partly or wholly applied by hand: each statement on its own, what is there already skipped, then recorded. */
async function applyEach(db: D1Database, migration: { name: string; statements: string[] }): Promise<void> {
  for (const statement of migration.statements) {
    try {
      await db.prepare(statement).run();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const there = ALREADY_THERE.test(message) || (RENAMED_ALREADY.statement.test(statement) && RENAMED_ALREADY.error.test(message));
      if (!there) throw err;
    }
  }
  await db.prepare('INSERT OR IGNORE INTO d1_migrations (name) VALUES (?1)').bind(migration.name).run();
}

/** Forget that the schema was found current (tests). */
export function forgetSchemaCheck() {
  current = false;
}
