// Starts a real ortserve command line (bin/ortserve.js, possibly behind tini) in a child process and finds its ports
// in its JSON log; for the tests that run deployment command lines (test/deploy-*.test.ts).

import { spawn, type ChildProcess } from 'node:child_process';

export interface CliProcess {
  child: ChildProcess;
  restPort: number;
  grpcPort: number;
  stdout(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: ChildProcess[] = [];

/** Kills whatever startCli started and is still running (for afterEach). */
export function killStartedClis(): void {
  for (const child of running.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** Runs `argv` (argv[0] is the program) and resolves once ortserve logged its ports. */
export async function startCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliProcess> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env });
  running.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => { out += String(d); });
  child.stderr!.on('data', (d) => { err += String(d); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const ports = await new Promise<{ restPort: number; grpcPort: number }>((resolve, reject) => {
    const look = () => {
      const m = /"restPort":(\d+),"grpcPort":(\d+)/.exec(out);
      if (m !== null) resolve({ restPort: Number(m[1]), grpcPort: Number(m[2]) });
    };
    child.stdout!.on('data', look);
    child.on('error', reject);
    void exited.then(({ code }) => reject(new Error(`${argv.join(' ')} exited (${code}) before listening:\n${out}\n${err}`)));
  });
  return { child, ...ports, stdout: () => out, exited };
}
