#!/usr/bin/env node
// Builds the playground (/), the vault editor (/vault) and the operator console (/admin) from src/pages into pages-build/, which
// wrangler.jsonc serves as Workers static assets, so the pages add nothing to the worker bundle.
//   node scripts/build-pages.mjs            build once and print each page's size
//   node scripts/build-pages.mjs --quiet    build once, print nothing
//   node scripts/build-pages.mjs --watch    rebuild on every change (for `npm run dev`)
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src/pages');
const OUT_DIR = join(root, 'pages-build');

const PAGES = [
  { name: 'playground', file: 'index.html', route: '/', connect: "'self'", images: "'self' data: blob: https: http:" },
  // The vault editor reads model lists straight from the providers ("Refresh from API").
  { name: 'vault', file: 'vault.html', route: '/vault', connect: "'self' https: http:", images: "'self'" },
  // The operator console talks to this gateway only.
  { name: 'admin', file: 'admin.html', route: '/admin', connect: "'self'", images: "'self'" },
];

const quiet = process.argv.includes('--quiet');
const watch = process.argv.includes('--watch');

/** The tiny script that sets the remembered theme before the first paint (inlined, allowed by hash). */
async function themeBootScript() {
  const result = await esbuild.build({
    entryPoints: [join(source, 'shared/theme-boot.ts')],
    bundle: true,
    minify: true,
    format: 'iife',
    target: 'es2020',
    write: false,
  });
  return result.outputFiles[0].text.trim();
}

function contentSecurityPolicy(page, bootHash) {
  return [
    "default-src 'none'",
    `script-src 'self' 'sha256-${bootHash}'`,
    "style-src 'self'",
    `img-src ${page.images}`,
    `connect-src ${page.connect}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function headersFile(bootHash) {
  const rules = PAGES.map((page) => `${page.route}\n  Content-Security-Policy: ${contentSecurityPolicy(page, bootHash)}\n`);
  rules.push('/assets/*\n  Cache-Control: public, max-age=31536000, immutable\n');
  rules.push('/*\n  X-Content-Type-Options: nosniff\n  Referrer-Policy: no-referrer\n');
  return rules.join('');
}

/** Entry name → its hashed script and stylesheet, from esbuild's metafile. */
function outputsByEntry(metafile) {
  const found = {};
  for (const [file, output] of Object.entries(metafile.outputs)) {
    if (!output.entryPoint || !file.endsWith('.js')) continue;
    const name = basename(dirname(output.entryPoint));
    found[name] = { script: `/${relative(OUT_DIR, join(root, file))}`, style: output.cssBundle && `/${relative(OUT_DIR, join(root, output.cssBundle))}` };
  }
  return found;
}

function writePages(metafile, boot) {
  const bootHash = createHash('sha256').update(boot).digest('base64');
  const outputs = outputsByEntry(metafile);
  for (const page of PAGES) {
    const { script, style } = outputs[page.name];
    const html = readFileSync(join(source, page.name, page.file), 'utf8')
      .replace('%THEME_BOOT%', () => boot)
      .replace('%STYLE%', style)
      .replace('%SCRIPT%', script);
    writeFileSync(join(OUT_DIR, page.file), html);
  }
  writeFileSync(join(OUT_DIR, '_headers'), headersFile(bootHash));
  writeFileSync(join(OUT_DIR, 'favicon.svg'), readFileSync(join(source, 'shared/favicon.svg')));
  // Watch mode leaves the previous hashed files behind: keep only this build's.
  const current = new Set(Object.keys(metafile.outputs).map((file) => join(root, file)));
  for (const file of readdirSync(join(OUT_DIR, 'assets'))) {
    if (!current.has(join(OUT_DIR, 'assets', file))) rmSync(join(OUT_DIR, 'assets', file));
  }
  return outputs;
}

/** Bytes a browser downloads for each page on a first visit: raw, and gzip-compressed as served. */
function pageSizes(outputs) {
  const size = (path) => {
    const bytes = readFileSync(join(OUT_DIR, path));
    return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
  };
  return PAGES.map((page) => {
    const files = [page.file, outputs[page.name].script, outputs[page.name].style, 'favicon.svg'].map((f) => size(f.replace(/^\//, '')));
    return {
      route: page.route,
      raw: files.reduce((n, f) => n + f.raw, 0),
      gzip: files.reduce((n, f) => n + f.gzip, 0),
    };
  });
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

const buildOptions = (boot) => ({
  absWorkingDir: root,
  entryPoints: PAGES.map((page) => ({ in: join(source, page.name, 'main.ts'), out: page.name })),
  outdir: join(OUT_DIR, 'assets'),
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome111', 'firefox113', 'safari16.4'],
  sourcemap: false,
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
  plugins: [
    {
      name: 'pages-html',
      setup(build) {
        build.onEnd((result) => {
          if (result.errors.length > 0) return;
          const outputs = writePages(result.metafile, boot);
          if (quiet) return;
          for (const page of pageSizes(outputs)) {
            console.log(`build-pages: ${page.route.padEnd(7)} ${kib(page.raw)} raw, ${kib(page.gzip)} gzip`);
          }
        });
      },
    },
  ],
});

async function main() {
  // Files are replaced in place (stale hashed assets removed after the build), never the whole
  // directory: a running `wrangler dev` or test run keeps a directory to serve from.
  mkdirSync(join(OUT_DIR, 'assets'), { recursive: true });
  const boot = await themeBootScript();
  if (watch) {
    const context = await esbuild.context(buildOptions(boot));
    await context.watch();
    console.log('build-pages: watching src/pages for changes');
    return;
  }
  await esbuild.build(buildOptions(boot));
}

await main();
