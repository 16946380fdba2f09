// Keeps the README true: its curl examples return exactly the responses shown, and its flag table matches the code.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createServer, type OrtServe } from '../src/index.js';
import { knobTable } from '../src/config/knob-table.js';
import { parseCliArgs } from '../src/config/cli-args.js';

const root = path.resolve(__dirname, '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

interface Example { method: string; path: string; body?: string; expected: string }

/** Pairs each curl line of a ```sh block with the line at the same index of the ```json block after it. */
function readmeExamples(): Example[] {
  const examples: Example[] = [];
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```\n```json\n([\s\S]*?)```/g)];
  for (const [, sh, json] of blocks) {
    const commands = sh!.replace(/\\\n\s*/g, '').split('\n').filter((l) => l.startsWith('curl '));
    const responses = json!.trim().split('\n');
    commands.forEach((cmd, i) => {
      const url = /localhost:8501(\S+)/.exec(cmd)![1]!;
      const body = /-d '([^']*)'/.exec(cmd)?.[1];
      examples.push({ method: body === undefined ? 'GET' : 'POST', path: url, body, expected: responses[i]! });
    });
  }
  return examples;
}

describe('README', () => {
  let server: OrtServe;
  let base: string;
  beforeAll(async () => {
    server = createServer({
      host: '127.0.0.1', restApiPort: 0, grpcPort: 0, modelBasePath: path.join(root, 'examples/models'), intraOpThreads: 1,
      logger: pino({ level: 'silent' }),
    });
    base = `http://127.0.0.1:${(await server.start()).restPort}`;
  });
  afterAll(async () => {
    await server.stop();
  });

  it('has curl examples, and each returns exactly the response shown', async () => {
    const examples = readmeExamples();
    expect(examples.length).toBeGreaterThanOrEqual(7);
    for (const ex of examples) {
      const res = await fetch(base + ex.path, { method: ex.method, body: ex.body });
      expect(await res.text(), `${ex.method} ${ex.path}`).toBe(ex.expected);
    }
  });

  it('lists every flag with its default, as the code defines them', () => {
    expect(readme).toContain(knobTable());
  });

  it('names the two set-up commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});

describe('CLI flags', () => {
  it('parses TF Serving flag names, both --a=b and --a b, and aliases', () => {
    const parsed = parseCliArgs(['--rest_api_port=9000', '--model_base_path', '/m', '--tensorflow_intra_op_parallelism=2']);
    expect(parsed).toEqual({ help: false, options: expect.objectContaining({ restApiPort: 9000, modelBasePath: '/m', intraOpThreads: 2 }) });
  });

  it.each([
    [['--no_such_flag=1'], /unknown flag --no_such_flag/],
    [['--rest_api_port=http'], /--rest_api_port: 'http' is not an integer/],
    [['--rest_api_port=70000'], /--rest_api_port: 70000 is outside 0..65535/],
    [['--graph_optimization_level=max'], /--graph_optimization_level: 'max' is not one of/],
    [['--model_name'], /--model_name needs a value/],
    [['stray'], /unexpected argument 'stray'/],
  ])('rejects %j naming the flag', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(message);
  });

  it('the ortserve command prints --help, and exits 2 on a bad flag and 1 on a bad model path', () => {
    const bin = path.join(root, 'bin/ortserve.js');
    const help = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--model_base_path');
    const bad = spawnSync(process.execPath, [bin, '--bogus'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown flag --bogus');
    const missing = spawnSync(process.execPath, [bin, '--model_base_path=/nonexistent', '--rest_api_port=0'], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("--model_base_path: '/nonexistent' is not a directory");
  });
});
