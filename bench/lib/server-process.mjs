// Starts ortserve as a child process (so the load generator does not share its event loop) and stops it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Resolves {origin, stop()} once the REST port listens. `flags` are ortserve command-line flags; the log level is
 * forced to info (last flag wins) because the "listening" log line is how the port is learned.
 */
export function startOrtserve(flags) {
  const child = spawn(process.execPath, [path.join(root, 'bin', 'ortserve.js'), '--host=127.0.0.1', '--rest_api_port=0', ...flags, '--log_level=info'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.on('exit', (code) => reject(new Error(`ortserve exited with ${code} before listening`)));
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      for (const line of buffered.split('\n')) {
        if (!line.includes('ortserve listening')) continue;
        const { restPort } = JSON.parse(line);
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        child.removeAllListeners('exit');
        resolve({
          origin: `http://127.0.0.1:${restPort}`,
          pid: child.pid,
          stop: () => new Promise((done) => {
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
        });
        return;
      }
    });
  });
}

/** Reads one Prometheus sample value for a model from /metrics. */
export async function metric(origin, name, model) {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const match = new RegExp(`^${name}\\{model="${model}",version="\\d+"\\} (\\d+)$`, 'm').exec(text);
  return match ? Number(match[1]) : NaN;
}
