import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

// The floors of src/, top to bottom (docs/architecture.md). A floor imports only the floors below
// it; `no-restricted-paths` holds that, `no-cycle` keeps any floor from looping back on itself.
const FLOORS = [
  ['src/index.ts', 'src/app.ts'],
  ['src/routes'],
  ['src/middleware'],
  ['src/unified', 'src/health'],
  ['src/forward', 'src/cache'],
  ['src/protocols', 'src/providers'],
  ['src/usage', 'src/limits', 'src/users', 'src/vault', 'src/responses', 'src/d1', 'src/generated', 'src/alerts', 'src/traces'],
  // env.ts is the type hub (bindings, Durable Object classes): it imports types only, checked below.
  ['src/errors.ts', 'src/log.ts', 'src/base64.ts', 'src/ip.ts', 'src/request-ids.ts', 'src/memo-router.ts', 'src/turn.ts', 'src/store-call.ts'],
];

// Tests beside their code (`*.test.ts`) may import fixtures and helpers from test/ and any floor.
const code = (path) => (path.endsWith('.ts') ? path : `${path}/**/!(*.test).ts`);

const floorZones = FLOORS.slice(1).map((floor, i) => ({
  target: floor.map(code),
  from: FLOORS.slice(0, i + 1).flat(),
  message: 'a lower floor imports a higher one (see the floors in docs/architecture.md)',
}));

// The browser pages import each other and only the pure modules listed here: no I/O, no bindings.
const PURE_FOR_PAGES = [
  './pages',
  './base64.ts',
  './vault/crypto.ts',
  './vault/schema.ts',
  './providers/table.ts',
  './providers/endpoint.ts',
  './providers/lookup.ts',
];

const zones = [
  ...floorZones,
  {
    target: 'src/providers',
    from: 'src/protocols',
    message: 'providers/ is the provider table and its lookups: it knows no protocol code',
  },
  {
    target: ['src/protocols/*/**', 'src/protocols/adapter.ts'],
    from: 'src/protocols/registry.ts',
    message: 'a protocol never imports the registry that lists it',
  },
  {
    target: 'src/protocols/pivot',
    from: 'src/protocols',
    except: ['./pivot', './adapter.ts'],
    message: 'the pivot sits below the protocols that translate to and from it',
  },
  {
    target: 'src/pages',
    from: 'src',
    except: PURE_FOR_PAGES,
    message: 'the pages run in browsers: they import pages/ and the pure modules listed in eslint.config.js',
  },
  {
    target: code('src'),
    from: ['test', 'dev', 'scripts', 'bench'],
    message: 'the worker never imports tests, the dev tools or the benchmark',
  },
  {
    target: ['dev', 'scripts'],
    from: 'test',
    message: '`npm run dev` runs without the test tree',
  },
];

export default tseslint.config(
  { ignores: ['node_modules/', 'pages-build/', 'src/generated/', 'test-results/', '.wrangler/', 'bench/.tmp/', 'bench/results/', 'dist/'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ['**/*.{ts,mts,js,mjs}'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.mts', '.js', '.mjs', '.json'] })] },
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    rules: {
      // TypeScript checks names (npm run typecheck); the rule does not know the Workers and DOM globals.
      'no-undef': 'off',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { zones }],
      'import-x/no-self-import': 'error',
      'import-x/no-useless-path-segments': 'error',
      'import-x/no-duplicates': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // The type hub may name any module's types, and nothing else from src/.
    files: ['src/env.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ group: ['./*', '../*'], allowTypeImports: true, message: 'env.ts imports types only' }] },
      ],
    },
  },
  {
    // Tests read JSON answers loosely.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.d.ts'],
    rules: { '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'with-single-extends' }] },
  },
);
