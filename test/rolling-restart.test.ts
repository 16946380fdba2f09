// Three ortserve processes behind a real Nginx (Debian's package) running deploy/nginx/ortserve.conf: REST over
// HTTP/1.1 keepalive and gRPC through grpc_pass, under load, restarted one at a time with SIGTERM: no request fails.

/*
 * What this relies on (README, Deploying behind a load balancer):
 *   - Nginx's proxy_next_upstream / grpc_next_upstream (error, timeout, http_502/503, non_idempotent) and its passive
 *     health check (max_fails=1 fail_timeout=2s): a request that meets a refused connect, a closed connection or a
 *     503 goes to another instance;
 *   - each instance is drained at the load balancer before it stops: marked `down` in the site file and Nginx
 *     reloaded (the old workers finish what they carry, then exit). Nginx OSS has no active health check, so it cannot
 *     see an instance's readiness turn false, and it cannot retry a gRPC call once sent (grpc_pass streams the body):
 *     a call it sends as the instance closes its HTTP/2 connection (GOAWAY) would fail, drain or no drain;
 *   - when the CLI accepts --drain_seconds and --exit_timeout_seconds (the graceful drain), the instances run with
 *     them and must exit 0 (no request cut); without them (a build before the drain), SIGTERM stops at once, which
 *     is safe here only because the load balancer no longer sends anything to the instance.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { grpc, grpcClients } from './support/grpc-client.js';
import { mlpModel, mlpVersionOf, tempDir } from './support/registry-helpers.js';

const root = path.resolve(__dirname, '..');
const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
if (NGINX === undefined) {
  console.warn('rolling-restart.test.ts: SKIPPED: no nginx binary (install Debian\'s nginx-light or nginx; .ci/run does)');
}
const ROW = [[1, 2, 3, 4]];

/** Whether this build's CLI has the graceful drain (it lists the flags in --help). */
function cliHasDrain(): boolean {
  const help = execFileSync(process.execPath, [path.join(root, 'bin/ortserve.js'), '--help'], { encoding: 'utf8' });
  return help.includes('--drain_seconds') && help.includes('--exit_timeout_seconds');
}

/**
 * `count` distinct free ports: all are bound at once before any is released, so two calls cannot get the same port
 * back (one after another, the kernel may hand out a port just released: an instance once got one port for REST
 * and gRPC).
 */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

interface Instance {
  restPort: number;
  grpcPort: number;
  child?: ChildProcess;
  exited?: Promise<number | null>;
}

const children = new Set<ChildProcess>();
const dirs: string[] = [];
let nginxMaster: ChildProcess | undefined;
afterAll(() => {
  // SIGTERM: Nginx's master stops its workers (killed outright, they would outlive it holding the ports).
  if (nginxMaster !== undefined && nginxMaster.exitCode === null) nginxMaster.kill('SIGTERM');
  for (const child of children) if (child !== nginxMaster && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Starts (or restarts) an instance on its ports; resolves once KServe readiness answers 200 on it directly. */
async function start(instance: Instance, repo: string, drain: boolean): Promise<void> {
  const args = [
    path.join(root, 'bin/ortserve.js'), `--model_base_path=${repo}`, '--host=127.0.0.1',
    `--rest_api_port=${instance.restPort}`, `--port=${instance.grpcPort}`, '--intra_op_threads=1', '--num_batch_threads=1',
    '--file_system_poll_wait_seconds=0', '--log_level=warn',
    ...(drain ? ['--drain_seconds=1', '--exit_timeout_seconds=10'] : []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += String(d); });
  instance.child = child;
  instance.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ortserve on ${instance.restPort} exited (${child.exitCode}):\n${stderr}`);
    try {
      if ((await fetch(`http://127.0.0.1:${instance.restPort}/v2/health/ready`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Writes deploy/nginx/ortserve.conf with the instances' and the front ports in place of the documented ones; the
 * instance at index `down` (if any) is marked down.
 */
function writeSite(dir: string, instances: Instance[], restFront: number, grpcFront: number, down?: number): void {
  let site = readFileSync(path.join(root, 'deploy/nginx/ortserve.conf'), 'utf8');
  const ports = new Map<string, number>([['8501', restFront], ['8500', grpcFront]]);
  instances.forEach((x, i) => {
    ports.set(`85${i + 1}1`, x.restPort);
    ports.set(`85${i + 1}0`, x.grpcPort);
  });
  if (down !== undefined) site = site.replace(new RegExp(`(127\\.0\\.0\\.1:85${down + 1}[01][^;]*);`, 'g'), '$1 down;');
  site = site.replace(/\b85\d\d\b/g, (p) => String(ports.get(p) ?? p));
  writeFileSync(path.join(dir, 'site.conf'), site);
}

/** The worker processes of the Nginx master `pid`. */
function workers(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Reloads Nginx's config (SIGHUP) and waits until the workers that ran the old one have finished and exited. */
async function reloadNginx(pid: number): Promise<void> {
  const old = workers(pid);
  process.kill(pid, 'SIGHUP');
  while (old.some((w) => existsSync(`/proc/${w}`)) || workers(pid).length === 0) await new Promise((r) => setTimeout(r, 20));
}

/** nginx.conf around the site file (temporary paths and pid in `dir`). */
function nginxConfig(dir: string, instances: Instance[], restFront: number, grpcFront: number): string {
  writeSite(dir, instances, restFront, grpcFront);
  for (const sub of ['body', 'proxy', 'grpc']) mkdirSync(path.join(dir, sub), { recursive: true });
  // Run by root, Nginx's workers would switch to "nobody", who cannot use the temporary directories made here.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${user}worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\nevents { worker_connections 1024; }\n` +
    `http {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n` +
    `  fastcgi_temp_path ${dir}/proxy;\n  uwsgi_temp_path ${dir}/proxy;\n  scgi_temp_path ${dir}/proxy;\n  include ${dir}/site.conf;\n}\n`;
}

/** Requests the instance answered since it started, from its own metrics. */
async function served(instance: Instance): Promise<number> {
  const metrics = await (await fetch(`http://127.0.0.1:${instance.restPort}/metrics`)).text();
  return Number(/nv_inference_request_success\{model="rolling",version="1"\} (\d+)/.exec(metrics)?.[1] ?? 0);
}

/**
 * One POST on a connection of its own. The REST clients do not keep connections to Nginx alive: a reload closes the
 * old workers' idle client connections, and a client that writes into one as it closes loses that request, whatever
 * the upstreams do (this test is about the upstream side; Nginx keeps its connections to ortserve alive).
 */
function postOnce(port: number, url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: url, method: 'POST', agent: false, headers: { 'content-type': 'application/json', connection: 'close' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe.skipIf(NGINX === undefined)('rolling restart behind Nginx', () => {
  it('restarts three instances one at a time under REST and gRPC load through Nginx with zero failed requests', async () => {
    const top = tempDir('ortserve-rolling-');
    const repo = path.join(top, 'rolling');   // the model's name is its directory's
    const dir = tempDir('ortserve-nginx-');
    dirs.push(top, dir);
    mkdirSync(path.join(repo, '1'), { recursive: true });
    writeFileSync(path.join(repo, '1', 'model.onnx'), mlpModel(1));
    const drain = cliHasDrain();
    const instances: Instance[] = [];
    const ports = await freePorts(8);
    for (let i = 0; i < 3; i++) instances.push({ restPort: ports[2 * i]!, grpcPort: ports[2 * i + 1]! });
    await Promise.all(instances.map((x) => start(x, repo, drain)));
    const restFront = ports[6]!;
    const grpcFront = ports[7]!;
    writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig(dir, instances, restFront, grpcFront));
    const nginx = spawn(NGINX!, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    nginxMaster = nginx;
    let nginxErr = '';
    nginx.stderr!.on('data', (d) => { nginxErr += String(d); });
    for (;;) {
      if (nginx.exitCode !== null) throw new Error(`nginx exited (${nginx.exitCode}):\n${nginxErr}${readFileSync(path.join(dir, 'error.log'), 'utf8')}`);
      try {
        if ((await fetch(`http://127.0.0.1:${restFront}/v2/health/ready`)).status === 200) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }

    const clients = grpcClients(`127.0.0.1:${grpcFront}`);
    const f32 = Buffer.from(new Float32Array(ROW[0]!).buffer);
    const failures: string[] = [];
    let rest = 0;
    let grpcOk = 0;
    let stop = false;
    const restLoop = async () => {
      while (!stop) {
        try {
          const res = await postOnce(restFront, '/v1/models/rolling:predict', JSON.stringify({ instances: ROW }));
          const json = JSON.parse(res.body);
          if (res.status !== 200 || mlpVersionOf(json.predictions, ROW) !== 1) failures.push(`REST ${res.status} ${res.body}`);
          else rest++;
        } catch (err) {
          failures.push(`REST ${String(err)}`);
        }
      }
    };
    const grpcLoop = async () => {
      while (!stop) {
        const outcome = await new Promise<string | undefined>((resolve) => {
          clients.kserve.ModelInfer({
            model_name: 'rolling', inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [f32],
          }, new grpc.Metadata(), { deadline: Date.now() + 30_000 }, (error: grpc.ServiceError | null, response: any) => {
            resolve(error ? `gRPC ${error.code} ${error.details}` : response.model_version === '1' ? undefined : `gRPC version ${response.model_version}`);
          });
        });
        if (outcome === undefined) grpcOk++;
        else failures.push(outcome);
      }
    };
    const exits: Array<number | null> = [];
    const load = Promise.all([restLoop(), restLoop(), restLoop(), grpcLoop(), grpcLoop()]);
    try {
      const waitFor = async (predicate: () => boolean | Promise<boolean>) => {
        const until = Date.now() + 60_000;
        while (!(await predicate())) {
          if (Date.now() > until || failures.length > 20) throw new Error(`load stalled: ${rest} REST, ${grpcOk} gRPC answers; failures: ${failures.slice(0, 5).join('; ')}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await waitFor(() => rest > 100 && grpcOk > 50);
      for (const instance of instances) {
        const [restBefore, grpcBefore] = [rest, grpcOk];
        writeSite(dir, instances, restFront, grpcFront, instances.indexOf(instance));
        await reloadNginx(nginx.pid!);
        instance.child!.kill('SIGTERM');
        exits.push(await instance.exited);
        await start(instance, repo, drain);
        writeSite(dir, instances, restFront, grpcFront);
        await reloadNginx(nginx.pid!);
        // Load kept flowing, and reaches the restarted instance again (Nginx tries it once fail_timeout has passed)
        // before the next one goes down.
        await waitFor(async () => rest > restBefore + 100 && grpcOk > grpcBefore + 50 && (await served(instance)) > 0);
      }
    } finally {
      stop = true;
      await load;
      clients.close();
    }
    if (failures.length > 0) console.error(readFileSync(path.join(dir, 'error.log'), 'utf8'));
    expect(failures).toEqual([]);
    // Exit 0: with the drain, no request had to be cut (exit 1 says some were).
    expect(exits).toEqual([0, 0, 0]);
    // Every instance served requests after its restart (its own metrics count only since then).
    for (const instance of instances) expect(await served(instance), `instance on ${instance.restPort}`).toBeGreaterThan(0);
    nginx.kill('SIGQUIT');
  }, 180_000);
});
