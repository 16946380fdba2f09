// Regenerates src/frontends/grpc/generated/ (TypeScript types of the gRPC messages and services) from schemas/*.proto
// with proto-loader-gen-types, using the loader's own options, read from src/frontends/grpc/proto-schemas.ts so the
// types cannot describe a decoding the server does not do. `--check` fails, naming each stale file, if the committed
// code differs from a fresh generation.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkOrWrite, listFiles } from './generated-code.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const loaderSource = path.join('src', 'frontends', 'grpc', 'proto-schemas.ts');
const targetRel = path.join('src', 'frontends', 'grpc', 'generated');
const target = path.join(root, targetRel);
const generator = path.join(root, 'node_modules', '.bin', 'proto-loader-gen-types');
const check = process.argv.includes('--check');

function die(message) {
  console.error(`grpc-types: ${message}`);
  process.exit(1);
}

/** SCHEMA_FILES and PROTO_OPTIONS as proto-schemas.ts writes them, turned into the generator's arguments. */
function loaderArguments() {
  const source = readFileSync(path.join(root, loaderSource), 'utf8');
  const files = /export const SCHEMA_FILES = \[([^\]]*)\]/.exec(source);
  const options = /export const PROTO_OPTIONS: Options = \{([^}]*)\}/.exec(source);
  if (!files || !options) die(`${loaderSource}: SCHEMA_FILES or PROTO_OPTIONS not found where this script reads them`);
  const schemaFiles = [...files[1].matchAll(/'([^']+)'/g)].map((m) => m[1]);
  const flags = [];
  for (const entry of options[1].split(',').map((s) => s.trim()).filter(Boolean)) {
    const [key, value] = entry.split(':').map((s) => s.trim());
    // Each loader option has the generator flag of the same name; values are `true` or a constructor name.
    if (!['keepCase', 'longs', 'enums', 'bytes', 'defaults', 'arrays', 'objects', 'oneofs', 'json'].includes(key)) {
      die(`${loaderSource}: PROTO_OPTIONS.${key} has no proto-loader-gen-types flag this script knows; teach it the flag`);
    }
    if (value === 'true') flags.push(`--${key}`);
    else if (value !== 'false') flags.push(`--${key}=${value}`);
  }
  return { schemaFiles, flags };
}

/** The generator's output, each file opening with a line that says it is generated, from what and how. */
function generate() {
  const { schemaFiles, flags } = loaderArguments();
  const out = mkdtempSync(path.join(os.tmpdir(), 'ortserve-grpc-types-'));
  try {
    // Run from the package root: the generator names each file's .proto relative to the working directory.
    execFileSync(generator, [...flags, '--grpcLib=@grpc/grpc-js', '--importFileExtension=.js', '-I', 'schemas', '-O', out, ...schemaFiles],
      { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    const files = new Map();
    for (const file of listFiles(out)) {
      const text = readFileSync(path.join(out, file), 'utf8');
      // Service/package index files have no "Original file" line; they come from the schema of the same name.
      const original = /^\/\/ Original file: (\S+)\n/.exec(text);
      const from = original ? original[1] : `schemas/${path.basename(file, '.ts')}.proto`;
      const header = `// Generated from ${from} by \`node scripts/gen-grpc-types.mjs\` (proto-loader-gen-types ${flags.join(' ')}): do not edit.\n`;
      files.set(file, header + (original ? text.slice(original[0].length) : text));
    }
    return files;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (!existsSync(generator)) die(`${path.relative(root, generator)} not found; run \`npm ci\` (it ships with @grpc/proto-loader)`);
const fresh = generate();
checkOrWrite({ target, targetName: targetRel, fresh, check, label: 'grpc-types', source: 'schemas/*.proto', regenerate: 'npm run gen:grpc-types' });
