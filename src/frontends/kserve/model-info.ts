// Health, readiness and metadata answers of the KServe V2 protocol, shared by its REST and gRPC front ends.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientText, fail } from '../../errors.js';
import type { TensorSpec } from '../../engine/model-session.js';
import type { ModelRegistry, VersionSelector } from '../../registry/model-registry.js';
import { datatypeOf } from './datatypes.js';
import { effectiveTritonConfig } from '../../registry/triton-model-check.js';

/** Triton's platform name for ONNX Runtime models; clients display it. */
export const PLATFORM = 'onnxruntime_onnx';

/** KServe versions are strings; ortserve's are positive integers, so any other string names no version. */
export function versionSelector(model: string, version: string): VersionSelector {
  if (version === '') return {};
  if (/^\d{1,15}$/.test(version)) return { version: Number(version) };
  fail('ERR_MODEL_NOT_FOUND', `Servable not found for request: Specific(${clientText(model)}, ${clientText(version)}) (versions are positive integers)`);
}

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

function tensorMetadata(spec: TensorSpec): TensorMetadata {
  return { name: spec.name, datatype: datatypeOf(spec.dtype), shape: spec.shape };
}

/** The metadata of the version the selector resolves to; `versions` lists every AVAILABLE version of the model. */
export function modelMetadata(registry: ModelRegistry, model: string, selector: VersionSelector): ModelMetadata {
  const v = registry.resolve(model, selector);
  const versions = registry.status(model).filter((x) => x.state === 'AVAILABLE').map((x) => String(x.version));
  return {
    name: v.model,
    versions,
    platform: PLATFORM,
    inputs: v.session.signature.inputs.map(tensorMetadata),
    outputs: v.session.signature.outputs.map(tensorMetadata),
  };
}

/**
 * The model's effective configuration in Triton's JSON form (GET /v2/models/{m}[/versions/{v}]/config, gRPC
 * ModelConfig): its config.pbtxt (or TF-style entry) completed from the selected version, else from the newest
 * AVAILABLE one; from the config alone while none is loaded. Throws ERR_MODEL_NOT_FOUND for an unknown model or version.
 */
export function modelConfig(registry: ModelRegistry, model: string, selector: VersionSelector): Record<string, unknown> {
  const versions = registry.status(model, selector);
  const loaded = versions.find((v) => v.state === 'AVAILABLE' && v.session !== undefined);
  const config = loaded?.config ?? registry.config().models.find((m) => m.name === model) ?? versions[0]?.config;
  if (config === undefined) fail('ERR_MODEL_NOT_FOUND', `Servable not found for request: ${clientText(model)}`);
  const session = loaded?.session;
  const facts = session === undefined ? undefined : {
    signature: session.signature, batching: session.metadata.batching, instances: session.instances,
  };
  return effectiveTritonConfig(config, facts);
}

/**
 * True when the selected version is AVAILABLE and the server is not shutting down. Throws ERR_MODEL_NOT_FOUND for a
 * model or version never seen.
 */
export function modelReady(registry: ModelRegistry, model: string, selector: VersionSelector): boolean {
  const available = registry.status(model, selector).some((v) => v.state === 'AVAILABLE');
  return available && !registry.shuttingDown;
}

/**
 * Ready = every model ortserve was asked to serve has an AVAILABLE version (Triton's strict readiness), and the
 * server is not shutting down (from the signal on, so load balancers stop sending while it drains).
 */
export function serverReady(registry: ModelRegistry): boolean {
  if (registry.shuttingDown) return false;
  return registry.modelNames().every((name) => registry.status(name).some((v) => v.state === 'AVAILABLE'));
}

let packageVersion: string | undefined;

/** ortserve's version from its package.json, found by walking up from this file (src/ and dist/src/ both work). */
export function serverVersion(): string {
  if (packageVersion !== undefined) return packageVersion;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  packageVersion = 'unknown';
  for (let i = 0; i < 6; i++, dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'ortserve') {
      packageVersion = pkg.version ?? 'unknown';
      break;
    }
  }
  return packageVersion;
}

/** The server metadata answer; `extensions` lists what this server really offers. */
export function serverMetadata(managementEnabled: boolean): { name: string; version: string; extensions: string[] } {
  const extensions = ['binary_tensor_data', 'statistics'];
  if (managementEnabled) extensions.push('model_repository');
  return { name: 'ortserve', version: serverVersion(), extensions };
}
