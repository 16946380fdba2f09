// `npm install <tarball>` in someone else's project: packs ortserve, installs it offline (hoisted and linked layouts)
// and checks both faces from the consumer's side: the embedded server with ortserve/client and fetch, `npx ortserve`,
// and a consumer's `tsc --noEmit`. Slow (a native build, a pack, two installs): one file, generous timeouts.

import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mlpReference } from './support/reference.js';
import { writeConsumerProject } from './support/npm-consumer/consumer-lock.mjs';

const repoDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = path.join(repoDir, 'test', 'support', 'npm-consumer');
const work = mkdtempSync(path.join(os.tmpdir(), 'ortserve-npm-consumer-'));
const ROWS = [[1, 2, 3, 4], [-1, 0.5, 2, -3]];
// The prebuilt addon is made for the platform that packs; this suite runs where it installs, so it expects one here.
const PREBUILT_DIR = `prebuilds/${process.platform}-${process.arch}`;

/**
 * The environment for npm children: the caller's, minus what `npm test` put there for its own run (npm_package_*,
 * npm_lifecycle_*, npm_config_* other than the cache, which must stay the one `npm ci` filled).
 */
function npmEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) && key.toLowerCase() !== 'npm_config_cache') continue;
    env[key] = value;
  }
  return { ...env, CI: 'true', ...extra };
}

// The pack compiles C++ and every step here is CPU-heavy for minutes: at the lowest priority, so the test files that
// run beside this one (some time deadlines on a 2-core machine) keep the CPU they need.
const NICE = ['/usr/bin/nice', '/bin/nice'].find((f) => existsSync(f));

function run(command: string, args: string[], cwd: string, env = npmEnv()): SpawnSyncReturns<string> {
  const [file, argv] = NICE ? [NICE, ['-n', '19', command, ...args]] : [command, args];
  const result = spawnSync(file, argv, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  }
  return result;
}

/** A copy of the working tree to pack, so the pack's builds (dist/, prebuilds/) never touch files other tests use. */
function stageSource(): string {
  const stage = path.join(work, 'source');
  const skip = new Set(['node_modules', 'build', 'dist', 'prebuilds', '.git', '.cache']);
  cpSync(repoDir, stage, { recursive: true, filter: (src) => !skip.has(path.relative(repoDir, src).split(path.sep)[0]!) || src === repoDir });
  symlinkSync(path.join(repoDir, 'node_modules'), path.join(stage, 'node_modules'));
  // The ONNX Runtime headers the repo's own `npm ci` fetched, so the prebuilt build needs no network.
  if (existsSync(path.join(repoDir, '.cache'))) symlinkSync(path.join(repoDir, '.cache'), path.join(stage, '.cache'));
  return stage;
}

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: Array<{ path: string }>;
}

let tarball = '';
let packed: PackResult;

beforeAll(() => {
  const stage = stageSource();
  const out = run('npm', ['pack', '--json', '--offline', '--pack-destination', work], stage);
  // npm prints the lifecycle scripts' output before the JSON array.
  packed = (JSON.parse(out.stdout.slice(out.stdout.lastIndexOf('\n[') + 1)) as PackResult[])[0]!;
  tarball = path.join(work, packed.filename);
}, 900_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('holds what a consumer needs and no tests, benchmarks or build leftovers', () => {
    const files = packed.files.map((f) => f.path);
    for (const needed of [
      'package.json', 'README.md', 'LICENSE', 'bin/ortserve.js', 'dist/src/index.js', 'dist/src/index.d.ts',
      'dist/src/client/index.js', 'dist/src/client/index.d.ts', 'dist/src/engine/addon-location.js',
      `${PREBUILT_DIR}/ortserve.json`, 'scripts/install.mjs', 'scripts/uws-glibc-compat.mjs', 'scripts/build-native.mjs',
      'CMakeLists.txt', 'native/binding/addon.cc', 'native/core/batch_former.cc', 'native/ort/ort_api.cc',
      'schemas/kserve_grpc_inference.proto', 'examples/models/mlp/2/model.onnx',
    ]) {
      expect(files, needed).toContain(needed);
    }
    const unwanted = files.filter((f) => /^(test|bench|fuzz|build|docs|\.ci|\.cache|node_modules)\//.test(f) || f.endsWith('.map') ||
      f.startsWith('dist/fuzz/') || f === 'package-lock.json');
    expect(unwanted).toEqual([]);
    expect(existsSync(tarball)).toBe(true);
    // Packing leaves no prebuilds/ behind in the tree it packed (postpack).
    expect(existsSync(path.join(work, 'source', 'prebuilds'))).toBe(false);
  });
});

/** Starts `npx ortserve` in `cwd` and resolves its REST port from the "listening" log line. */
function startNpx(cwd: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const models = path.join('node_modules', 'ortserve', 'examples', 'models');
  const child = spawn('npx', ['--offline', 'ortserve', `--model_base_path=${models}`, '--rest_api_port=0', '--port=0', '--host=127.0.0.1'], {
    cwd, env: npmEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // npx runs ortserve as its own child: signal the process group this test created.
  const stop = async () => {
    try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* already gone */ }
    await exited;
  };
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      let entry: { msg?: string; restPort?: number };
      try { entry = JSON.parse(line) as typeof entry; } catch { return; }
      if (entry.msg === 'ortserve listening (REST and gRPC)' && typeof entry.restPort === 'number') resolve({ port: entry.restPort, stop });
    });
    void exited.then((code) => reject(new Error(`npx ortserve exited ${code} before listening:\n${stderr}`)));
  });
}

// Hoisted: the consumer says "skip" in its .npmrc; linked: in the environment (README, "Use ortserve as a library").
const LAYOUTS = [
  { strategy: 'hoisted', npmrc: 'onnxruntime-node-install=skip\n', env: {} },
  { strategy: 'linked', npmrc: '', env: { ONNXRUNTIME_NODE_INSTALL: 'skip' } },
] as const;

describe.each(LAYOUTS)('installed with --install-strategy=$strategy, offline', ({ strategy, npmrc, env }) => {
  const project = path.join(work, `consumer-${strategy}`);
  let installLog = '';

  beforeAll(() => {
    mkdirSync(project, { recursive: true });
    copyFileSync(tarball, path.join(project, path.basename(tarball)));
    writeConsumerProject({ repoDir, tarball: path.join(project, path.basename(tarball)), projectDir: project,
      extraDevDependencies: ['typescript', '@types/node'] });
    for (const f of ['consumer.mjs', 'types-check.ts', 'tsconfig.json']) copyFileSync(path.join(fixtures, f), path.join(project, f));
    if (npmrc) writeFileSync(path.join(project, '.npmrc'), npmrc);
    const out = run('npm', ['install', '--offline', `--install-strategy=${strategy}`, '--foreground-scripts', '--no-audit', '--no-fund'],
      project, npmEnv(env));
    installLog = out.stdout + out.stderr;
  }, 600_000);

  it('used the prebuilt addon (no compiler ran) and patched the uWebSockets.js copy that loads', () => {
    expect(installLog).toContain(`ortserve: using the prebuilt addon (${PREBUILT_DIR})`);
    expect(installLog).not.toContain('building the addon from source');
    expect(existsSync(path.join(project, 'node_modules', 'ortserve', 'build'))).toBe(false);
    // The uWS binary for this Node loads here, wherever npm put it (the consumer script below serves over it).
    expect(installLog).toMatch(/uws-glibc-compat: (not needed|uws_linux_x64_\d+\.node loads on glibc)/);
  });

  it('serves a model from an embedded createServer to ortserve/client (HTTP, WebSocket) and to fetch', () => {
    const out = run(process.execPath, ['consumer.mjs', path.join('node_modules', 'ortserve', 'examples', 'models')], project);
    const answers = JSON.parse(out.stdout.trim().split('\n').at(-1)!) as {
      http: { shape: number[]; data: number[] }; ws: { shape: number[]; data: number[] };
      fetch: { status: number; body: { predictions: number[][] } };
    };
    const expected = mlpReference(ROWS, 2);
    for (const viaClient of [answers.http, answers.ws]) {
      expect(viaClient.shape).toEqual([2, 3]);
      viaClient.data.forEach((v, i) => expect(v).toBeCloseTo(expected[Math.floor(i / 3)]![i % 3]!, 5));
    }
    expect(answers.fetch.status).toBe(200);
    answers.fetch.body.predictions.forEach((row, r) => row.forEach((v, k) => expect(v).toBeCloseTo(expected[r]![k]!, 5)));
  }, 180_000);

  it('starts with `npx ortserve --model_base_path=…`', async () => {
    const server = await startNpx(project);
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/v1/models/mlp`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        model_version_status: [{ version: '2', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }],
      });
    } finally {
      await server.stop();
    }
  }, 180_000);

  it('says plainly what is missing: onnxruntime-node\'s library, or cmake for a source build', () => {
    const installed = path.join(project, 'node_modules', 'ortserve');
    const install = (extraEnv: Record<string, string>) => spawnSync(process.execPath, [path.join(installed, 'scripts', 'install.mjs')],
      { cwd: project, encoding: 'utf8', env: { ...npmEnv(), ...extraEnv } });

    // A source build with no build tools on PATH stops before cmake-js, naming both.
    const noTools = install({ ORTSERVE_BUILD_FROM_SOURCE: '1', PATH: path.join(project, 'no-tools-here') });
    expect(noTools.status).toBe(1);
    expect(noTools.stdout).toContain('building the addon from source (ORTSERVE_BUILD_FROM_SOURCE=1)');
    expect(noTools.stderr).toContain('needs cmake (3.18 or newer) and a C++17 compiler');
    expect(existsSync(path.join(installed, 'build'))).toBe(false);

    // onnxruntime-node's library removed: the install step and the server's loader both name the file.
    const locator = pathToFileURL(path.join(installed, 'dist', 'src', 'engine', 'addon-location.js')).href;
    const library = spawnSync(process.execPath, ['--input-type=module', '-e',
      `console.log((await import(${JSON.stringify(locator)})).onnxruntimeNodeLibrary())`], { cwd: project, encoding: 'utf8' }).stdout.trim();
    expect(library).toMatch(/onnxruntime-node\/bin\/napi-v6\/linux\/x64\/libonnxruntime\.so\.1$/);
    expect(existsSync(library)).toBe(true);
    renameSync(library, `${library}.hidden`);
    try {
      const noLib = install({});
      expect(noLib.status).toBe(1);
      expect(noLib.stderr).toContain(`its ONNX Runtime library ${library} is absent`);
      const start = spawnSync(process.execPath, ['consumer.mjs', path.join('node_modules', 'ortserve', 'examples', 'models')],
        { cwd: project, encoding: 'utf8' });
      expect(start.status).not.toBe(0);
      expect(start.stderr).toContain(`its ONNX Runtime library ${library} is absent`);
    } finally {
      renameSync(`${library}.hidden`, library);
    }
  }, 180_000);

  it('type-checks a consumer TypeScript file that imports ortserve and ortserve/client', () => {
    const tsc = path.join(project, 'node_modules', 'typescript', 'bin', 'tsc');
    run(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
    // The check has teeth: a name ortserve does not export fails it.
    writeFileSync(path.join(project, 'types-bad.ts'), "import { createServer, noSuchExport } from 'ortserve';\nvoid createServer; void noSuchExport;\n");
    const bad = spawnSync(process.execPath, [tsc, '--noEmit', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--types', 'node', 'types-bad.ts'],
      { cwd: project, encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toContain('noSuchExport');
  }, 180_000);
});
