// deploy/k8s (Kustomize) and deploy/kserve: every rendered manifest validates against the Kubernetes 1.34 and KServe
// schemas, and agrees with ortserve itself: container args its own parser accepts, ports and probe paths that a real
// ortserve started with those args answers, a grace period that covers the drain, names and selectors that connect.

import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCliArgs } from '../src/config/cli-args.js';
import type { ServerOptions } from '../src/config/knobs.js';
import { killStartedClis, startCli, type CliProcess } from './support/cli-process.js';
import { grpcClients, unaryCall } from './support/grpc-client.js';
import { renderKustomization, type K8sObject } from './support/kustomize-lite.js';
import { manifestProblems } from './support/manifest-schemas.js';
import { tempDir } from './support/registry-helpers.js';

const root = path.resolve(__dirname, '..');
const OVERLAYS = ['deploy/k8s/overlays/pvc', 'deploy/k8s/overlays/model-image'];
const KSERVE = 'deploy/kserve';
// Seconds ortserve needs after --exit_timeout_seconds to unload models and exit, kept free in every grace period.
const EXIT_MARGIN_SECONDS = 5;

const dirs: string[] = [];
afterEach(() => {
  killStartedClis();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

type Obj = Record<string, any>;
const render = (dir: string) => renderKustomization(path.join(root, dir));
const one = (objects: K8sObject[], kind: string): Obj => {
  const found = objects.filter((o) => o.kind === kind);
  expect(found.map((o) => o.metadata.name), kind).toHaveLength(1);
  return found[0]!;
};
const subset = (small: Record<string, string>, big: Record<string, string>) =>
  Object.entries(small).every(([k, v]) => big[k] === v);
/** Kubernetes' reading of a CPU quantity ("2", "500m"), in cores. */
const cores = (q: string) => (q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q));
/** A probe succeeds on an HTTP status from 200 to 399 (kubelet's rule). */
const probeOk = (status: number) => status >= 200 && status < 400;

/** The container's flags through ortserve's own parser (an unknown or malformed flag throws, naming it). */
function parsedArgs(container: Obj, substitutions: Record<string, string> = {}): ServerOptions {
  const args = (container.args as string[]).map((a) => Object.entries(substitutions).reduce((s, [k, v]) => s.replaceAll(k, v), a));
  const parsed = parseCliArgs(args);
  if (parsed.help) throw new Error('args ask for --help');
  return parsed.options;
}

/** Replaces container paths by host paths in one pass (a replaced path is not replaced again), whole components only. */
function mapPaths(text: string, mounts: Record<string, string>): string {
  const keys = Object.keys(mounts).sort((a, b) => b.length - a.length).map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return text.replace(new RegExp(`(${keys.join('|')})(?=/|"|$)`, 'gm'), (m) => mounts[m]!);
}

const MLP_INPUT = [1, 2, 3, 4];
// examples/models/README.md: mlp version 2 (served as the highest) maps [1, 2, 3, 4] to [3.75, -3.25, 1].
const MLP_OUTPUT = [3.75, -3.25, 1];

async function checkInference(cli: CliProcess, model: string): Promise<void> {
  const v1 = await fetch(`http://127.0.0.1:${cli.restPort}/v1/models/${model}:predict`, { method: 'POST', body: JSON.stringify({ instances: [MLP_INPUT] }) });
  expect(await v1.json()).toEqual({ predictions: [MLP_OUTPUT] });
  const v2 = await fetch(`http://127.0.0.1:${cli.restPort}/v2/models/${model}/infer`, {
    method: 'POST', body: JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4], data: MLP_INPUT }] }),
  });
  const body = await v2.json() as { outputs: { name: string; data: number[] }[] };
  expect(body.outputs.find((o) => o.name === 'scores')?.data).toEqual(MLP_OUTPUT);
  const grpc = grpcClients(`127.0.0.1:${cli.grpcPort}`);
  try {
    expect((await unaryCall(grpc.kserve, 'ModelReady', { name: model })).response).toMatchObject({ ready: true });
  } finally {
    grpc.close();
  }
}

describe('rendered manifests validate against their schemas', () => {
  for (const dir of [...OVERLAYS, KSERVE]) {
    it(dir, () => {
      const objects = render(dir);
      expect(objects.length).toBeGreaterThan(0);
      expect(objects.flatMap(manifestProblems)).toEqual([]);
    });
  }

  it('overlays hold the parts issue 14 asks for', () => {
    const kinds = (dir: string) => render(dir).map((o) => o.kind).sort();
    expect(kinds('deploy/k8s/overlays/pvc')).toEqual(
      ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'Service']);
    expect(kinds('deploy/k8s/overlays/model-image')).toEqual(
      ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service', 'ServiceMonitor']);
    expect(kinds(KSERVE)).toEqual(['InferenceService', 'ServingRuntime']);
  });

  it('the validators refuse what they are there to catch', () => {
    const deployment = structuredClone(one(render(OVERLAYS[0]!), 'Deployment')) as K8sObject;
    const container = (deployment.spec as Obj).template.spec.containers[0];
    container.ports[0].containerPort = '8501';
    container.readinesProbe = container.readinessProbe;
    const problems = manifestProblems(deployment);
    expect(problems.join('\n')).toMatch(/containerPort must be integer/);
    expect(problems.join('\n')).toMatch(/unknown field 'readinesProbe'/);

    const [runtime, isvc] = [one(render(KSERVE), 'ServingRuntime'), one(render(KSERVE), 'InferenceService')].map((o) => structuredClone(o) as K8sObject);
    (runtime!.spec as Obj).protocolVersions.push('v3');
    (runtime!.spec as Obj).containers[0].ports[0].containerPort = '8080';
    expect(manifestProblems(runtime!).join('\n')).toMatch(/protocolVersions\/4: must be equal to one of the allowed values/);
    (runtime!.spec as Obj).protocolVersions.pop();
    expect(manifestProblems(runtime!).join('\n')).toMatch(/containerPort/);
    (isvc!.spec as Obj).predictor.modle = {};
    expect(manifestProblems(isvc!).join('\n')).toMatch(/predictor: property name must be valid/);
  });

  it('kustomize-lite renders what kubectl kustomize renders', () => {
    const probe = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
    if (probe.error !== undefined) {
      // Like the FlatBuffers regeneration check: where kubectl is absent, the renderer's output is still validated above.
      console.log('kubectl not found: kustomize-lite not compared with kubectl kustomize');
      return;
    }
    const key = (o: K8sObject) => `${o.apiVersion} ${o.kind} ${o.metadata.name}`;
    for (const dir of [...OVERLAYS, KSERVE]) {
      const out = spawnSync('kubectl', ['kustomize', path.join(root, dir)], { encoding: 'utf8' });
      expect(out.status, out.stderr).toBe(0);
      const theirs = parseAllDocuments(out.stdout).map((d) => d.toJS() as K8sObject);
      const ours = render(dir);
      expect(new Map(ours.map((o) => [key(o), o])), dir).toEqual(new Map(theirs.map((o) => [key(o), o])));
    }
  });
});

describe('Kubernetes manifests agree with ortserve', () => {
  for (const dir of OVERLAYS) {
    it(`${dir}: names, ports, selectors, grace period and resources connect`, () => {
      const objects = render(dir);
      const deployment = one(objects, 'Deployment');
      const pod = deployment.spec.template;
      const podLabels = pod.metadata.labels as Record<string, string>;
      const container = pod.spec.containers.find((c: Obj) => c.name === 'ortserve');
      const options = parsedArgs(container);
      const portByName = new Map<string, number>(container.ports.map((p: Obj) => [p.name, p.containerPort]));
      expect(portByName.get('http')).toBe(options.restApiPort);
      expect(portByName.get('grpc')).toBe(options.grpcPort);

      // The pod template's labels carry the selector, and everything that selects pods selects these.
      expect(subset(deployment.spec.selector.matchLabels, podLabels)).toBe(true);
      const service = one(objects, 'Service');
      expect(subset(service.spec.selector, podLabels)).toBe(true);
      expect(subset(one(objects, 'PodDisruptionBudget').spec.selector.matchLabels, podLabels)).toBe(true);
      expect(service.spec.ports.map((p: Obj) => [p.name, portByName.get(p.targetPort), p.appProtocol])).toEqual([
        ['http', options.restApiPort, 'http'], ['grpc', options.grpcPort, 'grpc'],
      ]);
      const hpa = one(objects, 'HorizontalPodAutoscaler');
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: deployment.apiVersion, kind: 'Deployment', name: deployment.metadata.name });
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);   // one pod may drain (PDB) while another serves
      for (const monitor of objects.filter((o) => o.kind === 'ServiceMonitor') as Obj[]) {
        expect(subset(monitor.spec.selector.matchLabels, service.metadata.labels)).toBe(true);
        for (const e of monitor.spec.endpoints) expect(service.spec.ports.map((p: Obj) => p.name)).toContain(e.port);
      }
      const annotations = pod.metadata.annotations as Record<string, string>;
      expect(Number(annotations['prometheus.io/port'])).toBe(options.restApiPort);

      // Kubelet waits terminationGracePeriodSeconds in all for the preStop hook and then the process.
      const preStop = container.lifecycle.preStop.exec.command as string[];
      expect(preStop[0]).toBe('sleep');
      const preStopSeconds = Number(preStop[1]);
      expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(
        preStopSeconds + options.drainSeconds + options.exitTimeoutSeconds + EXIT_MARGIN_SECONDS);
      expect(options.drainSeconds).toBeGreaterThan(0);

      // ORT and the worker pool would size themselves by the node's cores: the args keep them within the CPU limit.
      const cpuLimit = cores(container.resources.limits.cpu);
      for (const threads of [options.intraOpThreads, options.numBatchThreads]) {
        expect(threads).toBeGreaterThanOrEqual(1);
        expect(threads).toBeLessThanOrEqual(cpuLimit);
      }

      // Every mount has its volume (the model source comes from a component), and the config file is in the ConfigMap.
      const volumes = new Map<string, Obj>(pod.spec.volumes.map((v: Obj) => [v.name, v]));
      for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
        for (const m of c.volumeMounts) expect(volumes.has(m.name), `${c.name} mounts ${m.name}`).toBe(true);
      }
      expect(container.volumeMounts.map((m: Obj) => m.mountPath)).toContain('/models');
      const configMount = container.volumeMounts.find((m: Obj) => options.modelConfigFile.startsWith(`${m.mountPath}/`));
      const configMap = one(objects, 'ConfigMap');
      expect(volumes.get(configMount.name)?.configMap?.name).toBe(configMap.metadata.name);
      expect(Object.keys(configMap.data)).toContain(path.basename(options.modelConfigFile));
      for (const claim of objects.filter((o) => o.kind === 'PersistentVolumeClaim')) {
        expect([...volumes.values()].some((v) => v.persistentVolumeClaim?.claimName === claim.metadata.name)).toBe(true);
      }
    });

    it(`${dir}: a real ortserve with these args answers the probes, serves the models, turns unready on SIGTERM`, async () => {
      const objects = render(dir);
      const pod = one(objects, 'Deployment').spec.template;
      const container = pod.spec.containers.find((c: Obj) => c.name === 'ortserve');
      const work = tempDir('ortserve-deploy-');
      dirs.push(work);
      // The container's file system on the host: the ConfigMap's files, and /models as the model source fills it.
      const configMap = one(objects, 'ConfigMap');
      const configMount = container.volumeMounts.find((m: Obj) => m.name === 'config').mountPath as string;
      const mounts: Record<string, string> = { [configMount]: path.join(work, 'config'), '/models': path.join(work, 'models') };
      mkdirSync(mounts[configMount]!);
      for (const [file, text] of Object.entries(configMap.data as Record<string, string>)) {
        writeFileSync(path.join(mounts[configMount]!, file), mapPaths(text, mounts));
      }
      const init = (pod.spec.initContainers ?? []) as Obj[];
      if (init.length > 0) {
        // The init container's own command, with its image's /models being ortserve's image, i.e. examples/models.
        const initMounts = { '/mnt/models': mounts['/models']!, '/models': path.join(root, 'examples/models') };
        mkdirSync(mounts['/models']!);
        for (const c of init) {
          const cmd = (c.command as string[]).map((a) => mapPaths(a, initMounts));
          const run = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
          expect(run.status, run.stderr).toBe(0);
        }
      } else {
        cpSync(path.join(root, 'examples/models'), mounts['/models']!, { recursive: true });   // what the PVC holds
      }
      const args = (container.args as string[]).map((a) => mapPaths(a, mounts));
      // Only the addresses change: a free port each, on loopback.
      const cli = await startCli([process.execPath, path.join(root, 'bin/ortserve.js'), ...args,
        '--host=127.0.0.1', '--rest_api_port=0', '--port=0']);
      const http = (p: string) => fetch(`http://127.0.0.1:${cli.restPort}${p}`);
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        expect(container[probe].httpGet.port, probe).toBe('http');
        const res = await http(container[probe].httpGet.path);
        expect(probeOk(res.status), `${probe} ${container[probe].httpGet.path} -> ${res.status}`).toBe(true);
      }
      const metrics = await http(pod.metadata.annotations['prometheus.io/path']);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^nv_inference_request_success\{model="mlp",version="2"\} 0$/m);
      await checkInference(cli, 'mlp');

      cli.child.kill('SIGTERM');
      let ready = await http(container.readinessProbe.httpGet.path);
      // The signal travels while the request does: ask until the answer changes (within --drain_seconds).
      while (probeOk(ready.status)) ready = await http(container.readinessProbe.httpGet.path);
      expect(ready.status).toBe(400);
      expect(await ready.json()).toEqual({ ready: false });
      const live = await http(container.livenessProbe.httpGet.path);
      expect(probeOk(live.status)).toBe(true);   // draining is not dead: kubelet must not restart the pod
      expect(await cli.exited).toEqual({ code: 0, signal: null });
    }, 120_000);
  }
});

describe('KServe runtime agrees with ortserve', () => {
  it('formats, protocols, ports, args and grace period connect', () => {
    const objects = render(KSERVE);
    const runtime = one(objects, 'ServingRuntime');
    const isvc = one(objects, 'InferenceService');
    const container = runtime.spec.containers[0];
    expect(container.name).toBe('kserve-container');   // the name KServe looks for
    const options = parsedArgs(container, { '{{.Name}}': isvc.metadata.name });
    expect(options.modelName).toBe(isvc.metadata.name);
    expect(options.modelBasePath).toBe('/mnt/models');   // where KServe's storage initializer puts the model
    expect(container.ports.map((p: Obj) => p.containerPort)).toEqual([options.restApiPort]);
    expect(container.readinessProbe.httpGet.port).toBe(options.restApiPort);
    expect(runtime.spec.supportedModelFormats.map((f: Obj) => f.name)).toContain('onnx');
    expect(runtime.spec.protocolVersions).toEqual(expect.arrayContaining(['v1', 'v2', 'grpc-v2']));
    const model = isvc.spec.predictor.model;
    expect(model.runtime).toBe(runtime.metadata.name);
    expect(runtime.spec.supportedModelFormats.map((f: Obj) => f.name)).toContain(model.modelFormat.name);
    expect(runtime.spec.protocolVersions).toContain(model.protocolVersion);
    expect(isvc.spec.predictor.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(
      options.drainSeconds + options.exitTimeoutSeconds + EXIT_MARGIN_SECONDS);
    expect(options.intraOpThreads).toBeLessThanOrEqual(cores(container.resources.limits.cpu));
  });

  it('a real ortserve with the runtime args serves the v1, v2 and gRPC protocols it declares', async () => {
    const objects = render(KSERVE);
    const container = one(objects, 'ServingRuntime').spec.containers[0];
    const name = one(objects, 'InferenceService').metadata.name as string;
    const work = tempDir('ortserve-kserve-');
    dirs.push(work);
    // The storage URI's tree (<uri>/<version>/model.onnx), as the storage initializer leaves it in /mnt/models.
    cpSync(path.join(root, 'examples/models/mlp'), path.join(work, 'mnt-models'), { recursive: true });
    const args = (container.args as string[]).map((a) => a.replaceAll('{{.Name}}', name).replaceAll('/mnt/models', path.join(work, 'mnt-models')));
    const cli = await startCli([process.execPath, path.join(root, 'bin/ortserve.js'), ...args, '--host=127.0.0.1', '--rest_api_port=0', '--port=0']);
    const ready = await fetch(`http://127.0.0.1:${cli.restPort}${container.readinessProbe.httpGet.path}`);
    expect(ready.status).toBe(200);
    await checkInference(cli, name);
    cli.child.kill('SIGTERM');
    expect(await cli.exited).toEqual({ code: 0, signal: null });
  }, 120_000);
});
