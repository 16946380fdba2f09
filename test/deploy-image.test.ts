// The container image's recipe (Dockerfile, .dockerignore) and, since no container runtime runs on this machine or in
// CI (README, Deploy), its command lines run on the host: the runtime stage's files staged as the image lays them
// out, its ENTRYPOINT and CMD started (tini included where installed), its HEALTHCHECK run against it, then SIGTERM.

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCliArgs } from '../src/config/cli-args.js';
import { envOf, execForm, healthcheckOf, instructions, parseDockerfile, type Stage } from './support/dockerfile.js';
import { killStartedClis, startCli } from './support/cli-process.js';
import { tempDir } from './support/registry-helpers.js';

const root = path.resolve(__dirname, '..');
const dockerfile = parseDockerfile(readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
const build = dockerfile.stages.find((s) => s.name === 'build')!;
const runtime = dockerfile.stages.at(-1)!;
// glibc of each Debian release (uWebSockets.js 20.57's binaries need 2.38 or later).
const DEBIAN_GLIBC: Record<string, number> = { bookworm: 2.36, trixie: 2.41, forky: 2.42 };
const BUILD_TOOLS = /\b(cmake|g\+\+|gcc|make|build-essential|npm ci|python3)\b/;

const dirs: string[] = [];
afterEach(() => {
  killStartedClis();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const workdir = (stage: Stage) => instructions(stage, 'WORKDIR').at(-1)!.args;
const entrypoint = () => execForm(instructions(runtime, 'ENTRYPOINT').at(-1)!.args, 'ENTRYPOINT');
const cmd = () => execForm(instructions(runtime, 'CMD').at(-1)!.args, 'CMD');
/** COPY instructions as [options, sources, destination]. */
const copies = (stage: Stage) => instructions(stage, 'COPY').map((i) => {
  const words = i.args.split(/\s+/);
  const options = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  return { from: options.find((o) => o.startsWith('--from='))?.slice('--from='.length), sources: paths.slice(0, -1), dest: paths.at(-1)! };
});

/** Whether a .dockerignore pattern list leaves `rel` (a path in the build context) out. */
function ignored(patterns: string[], rel: string): boolean {
  return patterns.some((p) => {
    const re = new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/|$)`);
    return re.test(rel);
  });
}

describe('Dockerfile', () => {
  it('builds with the README\'s npm ci on a compiler image, and runs on a slim glibc >= 2.38 image without one', () => {
    expect(build.from).toMatch(/^node:[\d.]+-trixie$/);
    const buildRuns = instructions(build, 'RUN').map((i) => i.args).join('\n');
    expect(buildRuns).toMatch(/apt-get install .*\bcmake g\+\+ make\b/);
    expect(buildRuns).toMatch(/\bnpm ci\b/);
    expect(readFileSync(path.join(root, 'README.md'), 'utf8')).toContain('npm ci && npm start');

    expect(runtime.from).toMatch(/-slim$/);
    const release = /-(\w+)-slim$/.exec(runtime.from)![1]!;
    expect(DEBIAN_GLIBC[release]).toBeGreaterThanOrEqual(2.38);
    for (const run of instructions(runtime, 'RUN')) expect(run.args).not.toMatch(BUILD_TOOLS);
    expect(instructions(runtime, 'RUN').map((i) => i.args).join('\n')).toMatch(/apt-get install .*\btini\b/);
    // Nothing from the build stage but these: no build/ intermediates, no npm cache.
    expect(copies(runtime).filter((c) => c.from === 'build').flatMap((c) => c.sources).sort()).toEqual([
      '/opt/ortserve/bin', '/opt/ortserve/build/Release/ortserve.node', '/opt/ortserve/dist', '/opt/ortserve/node_modules',
      '/opt/ortserve/package.json', '/opt/ortserve/schemas',
    ]);
  });

  it('runs as a non-root user, serves /models on the exposed ports, checks readiness, and has an init as PID 1', () => {
    const user = instructions(runtime, 'USER').at(-1)!.args;
    expect(user).toMatch(/^\d+:\d+$/);   // numeric, so Kubernetes' runAsNonRoot can verify it
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    const parsed = parseCliArgs(cmd());
    if (parsed.help) throw new Error('CMD asks for --help');
    expect(parsed.options.modelBasePath).toBe('/models');
    expect(copies(runtime).some((c) => c.from === undefined && c.dest === '/models')).toBe(true);
    const exposed = instructions(runtime, 'EXPOSE').flatMap((i) => i.args.split(/\s+/)).map(Number).sort();
    expect(exposed).toEqual([parsed.options.grpcPort, parsed.options.restApiPort].sort());
    const health = new URL(envOf(runtime).ORTSERVE_HEALTH_URL!);
    expect([health.hostname, Number(health.port), health.pathname]).toEqual(['127.0.0.1', parsed.options.restApiPort, '/v2/health/ready']);
    expect(healthcheckOf(runtime).command.slice(0, 2)).toEqual(['node', '-e']);
    expect(entrypoint().slice(0, 4)).toEqual(['/usr/bin/tini', '--', 'node', `${workdir(runtime)}/bin/ortserve.js`]);
  });

  it('.dockerignore keeps caches and results out and every input of the build in', () => {
    const patterns = readFileSync(path.join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    for (const out of ['node_modules', 'build', 'dist', '.cache', '.git', 'fuzz/findings/x', 'server.log']) expect(ignored(patterns, out), out).toBe(true);
    // npm ci builds from these (tsconfig.json compiles src/ and fuzz/; the install script uses scripts/ and native/).
    for (const input of ['package.json', 'package-lock.json', '.npmrc', 'scripts/install.mjs', 'native', 'src/cli.ts', 'fuzz/cli.ts',
      'tsconfig.json', 'CMakeLists.txt', 'bin/ortserve.js', 'schemas', 'examples/models/mlp/2/model.onnx']) {
      expect(ignored(patterns, input), input).toBe(false);
      expect(existsSync(path.join(root, input)), input).toBe(true);
    }
    for (const c of copies(runtime).filter((c) => c.from === undefined)) {
      for (const source of c.sources) expect(ignored(patterns, source), source).toBe(false);
    }
  });
});

describe('the image\'s command lines, run on the host', () => {
  it('ENTRYPOINT + CMD serve from the runtime stage\'s files; HEALTHCHECK passes, then fails from SIGTERM on', async () => {
    // The runtime stage's file system: each COPY --from=build path taken from this built checkout (the build stage's
    // WORKDIR), node_modules linked rather than copied; /models from the build context.
    const stage = tempDir('ortserve-image-');
    dirs.push(stage);
    const appDir = workdir(runtime);
    const buildDir = workdir(build);
    const appOnHost = path.join(stage, 'app');
    for (const c of copies(runtime).filter((c) => c.from === 'build')) {
      for (const source of c.sources) {
        const from = path.join(root, path.relative(buildDir, source));
        const to = path.join(appOnHost, path.relative(appDir, path.resolve(appDir, c.dest)));
        mkdirSync(path.dirname(to), { recursive: true });
        if (path.basename(source) === 'node_modules') symlinkSync(from, to);
        else cpSync(from, to, { recursive: true });
      }
    }
    const mounts: Record<string, string> = { [appDir]: appOnHost, '/models': path.join(root, 'examples/models') };
    const onHost = (arg: string) => Object.entries(mounts).reduce((a, [k, v]) => (a === k || a.startsWith(`${k}/`) || a.includes(`=${k}`) ? a.replace(k, v) : a), arg);

    let argv = [...entrypoint(), ...cmd()].map(onHost);
    if (!existsSync(argv[0]!)) {
      console.log(`${argv[0]} not installed: running the ENTRYPOINT without its init (apt-get install tini to include it)`);
      argv = argv.slice(argv.indexOf('--') + 1);
    }
    argv[argv.indexOf('node')] = process.execPath;
    // Only the addresses change: a free port each, on loopback (the last of a repeated flag wins).
    const env = { ...process.env, ...envOf(runtime) };
    const cli = await startCli([...argv, '--host=127.0.0.1', '--rest_api_port=0', '--port=0'], env);

    const healthUrl = envOf(runtime).ORTSERVE_HEALTH_URL!.replace(/:\d+\//, `:${cli.restPort}/`);
    const healthcheck = () => {
      const [program, ...rest] = healthcheckOf(runtime).command;
      const run = spawnSync(program === 'node' ? process.execPath : program!, rest, { env: { ...env, ORTSERVE_HEALTH_URL: healthUrl }, encoding: 'utf8' });
      return run.status;
    };
    expect(healthcheck()).toBe(0);
    const predict = await fetch(`http://127.0.0.1:${cli.restPort}/v1/models/mlp:predict`, { method: 'POST', body: '{"instances": [[1, 2, 3, 4]]}' });
    expect(await predict.json()).toEqual({ predictions: [[3.75, -3.25, 1]] });   // examples/models/README.md, version 2

    // SIGTERM to the entrypoint's first process (tini, which forwards it): readiness, hence the HEALTHCHECK, fails.
    cli.child.kill('SIGTERM');
    let status = healthcheck();
    while (status === 0) status = healthcheck();
    expect(status).toBe(1);
    expect(await cli.exited).toEqual({ code: 0, signal: null });
    expect(healthcheck()).toBe(1);   // nothing listening
  }, 120_000);
});
