// Validates rendered manifests: Kubernetes kinds against the Kubernetes 1.34 OpenAPI schemas compiled into
// kubernetes-models 5.1.0, ServiceMonitor against @kubernetes-models/prometheus-operator 6.0.0, and KServe's
// ServingRuntime / InferenceService against kserveSchemas below. Returns the problems, one line each; none = valid.

import { Ajv, type ErrorObject } from 'ajv';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Container } from 'kubernetes-models/v1/Container';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { PodSpec } from 'kubernetes-models/v1/PodSpec';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { K8sObject } from './kustomize-lite.js';

type Model = new (data: never) => { validate(): void };
const KUBERNETES: Record<string, Model> = {
  'v1/ConfigMap': ConfigMap as unknown as Model,
  'v1/Service': Service as unknown as Model,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim as unknown as Model,
  'apps/v1/Deployment': Deployment as unknown as Model,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler as unknown as Model,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as unknown as Model,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor as unknown as Model,
};

// The OpenAPI schemas leave objects open (no additionalProperties: false), so a misspelt field such as
// `readinesProbe` would pass them; the API server drops it with a warning. These lists (Kubernetes 1.34's
// Container and PodSpec fields) make a misspelling an error here.
export const CONTAINER_FIELDS = new Set([
  'name', 'image', 'command', 'args', 'workingDir', 'ports', 'envFrom', 'env', 'resources', 'resizePolicy',
  'restartPolicy', 'restartPolicyRules', 'volumeMounts', 'volumeDevices', 'livenessProbe', 'readinessProbe',
  'startupProbe', 'lifecycle', 'terminationMessagePath', 'terminationMessagePolicy', 'imagePullPolicy',
  'securityContext', 'stdin', 'stdinOnce', 'tty',
]);
export const POD_SPEC_FIELDS = new Set([
  'volumes', 'initContainers', 'containers', 'ephemeralContainers', 'restartPolicy', 'terminationGracePeriodSeconds',
  'activeDeadlineSeconds', 'dnsPolicy', 'nodeSelector', 'serviceAccountName', 'serviceAccount',
  'automountServiceAccountToken', 'nodeName', 'hostNetwork', 'hostPID', 'hostIPC', 'shareProcessNamespace',
  'securityContext', 'imagePullSecrets', 'hostname', 'subdomain', 'affinity', 'schedulerName', 'tolerations',
  'hostAliases', 'priorityClassName', 'priority', 'dnsConfig', 'readinessGates', 'runtimeClassName',
  'enableServiceLinks', 'preemptionPolicy', 'overhead', 'topologySpreadConstraints', 'setHostnameAsFQDN', 'os',
  'hostUsers', 'schedulingGates', 'resourceClaims', 'resources', 'hostnameOverride',
]);

function unknownFields(where: string, object: Record<string, unknown>, allowed: Set<string>): string[] {
  return Object.keys(object).filter((k) => !allowed.has(k)).map((k) => `${where}: unknown field '${k}'`);
}

function containerProblems(where: string, containers: unknown): string[] {
  const problems: string[] = [];
  for (const [i, c] of ((containers ?? []) as Record<string, unknown>[]).entries()) {
    problems.push(...unknownFields(`${where}[${i}]`, c, CONTAINER_FIELDS));
    problems.push(...modelProblems(`${where}[${i}]`, Container as unknown as Model, c));
  }
  return problems;
}

function modelProblems(where: string, model: Model, data: unknown): string[] {
  try {
    new model(data as never).validate();
    return [];
  } catch (err) {
    return [`${where}: ${(err as Error).message}`];
  }
}

// KServe's ServingRuntime (v1alpha1) and InferenceService (v1beta1), written from KServe's API types for the fields
// these manifests can use: KServe's own fields are closed (a misspelt one fails), and the containers and pod fields
// they embed are checked against the Kubernetes schemas above. Not the generated CRD: fields KServe added later
// than its 0.15 API are unknown here.
const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const protocol = { enum: ['v1', 'v2', 'grpc-v1', 'grpc-v2'] };
const metadata = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } };
const servingRuntimeSchema = {
  type: 'object', additionalProperties: false, required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'serving.kserve.io/v1alpha1' }, kind: { enum: ['ServingRuntime', 'ClusterServingRuntime'] }, metadata,
    spec: {
      type: 'object', additionalProperties: false, required: ['containers'],
      properties: {
        supportedModelFormats: { type: 'array', items: {
          type: 'object', additionalProperties: false, required: ['name'],
          properties: { name: { type: 'string', minLength: 1 }, version: { type: 'string' }, autoSelect: { type: 'boolean' }, priority: { type: 'integer', minimum: 1 } },
        } },
        protocolVersions: { type: 'array', items: protocol, uniqueItems: true },
        multiModel: { type: 'boolean' }, disabled: { type: 'boolean' },
        containers: { type: 'array', minItems: 1, items: { type: 'object' } },
        volumes: { type: 'array' }, nodeSelector: stringMap, affinity: { type: 'object' }, tolerations: { type: 'array' },
        labels: stringMap, annotations: stringMap, imagePullSecrets: { type: 'array' }, schedulerName: { type: 'string' },
        hostIPC: { type: 'boolean' }, grpcEndpoint: { type: 'string' }, grpcDataEndpoint: { type: 'string' },
        httpDataEndpoint: { type: 'string' }, replicas: { type: 'integer', minimum: 0 },
        storageHelper: { type: 'object', additionalProperties: false, properties: { disabled: { type: 'boolean' } } },
        builtInAdapter: { type: 'object' }, workerSpec: { type: 'object' },
      },
    },
  },
};
const COMPONENT_EXTENSION = {
  minReplicas: { type: 'integer', minimum: 0 }, maxReplicas: { type: 'integer', minimum: 0 },
  scaleTarget: { type: 'integer', minimum: 1 }, scaleMetric: { enum: ['cpu', 'memory', 'concurrency', 'rps'] },
  containerConcurrency: { type: 'integer', minimum: 0 }, timeout: { type: 'integer', minimum: 0 },
  canaryTrafficPercent: { type: 'integer', minimum: 0, maximum: 100 }, logger: { type: 'object' }, batcher: { type: 'object' },
  labels: stringMap, annotations: stringMap, deploymentStrategy: { type: 'object' },
};
const MODEL_FIELDS = {
  modelFormat: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', minLength: 1 }, version: { type: 'string' } } },
  runtime: { type: 'string' }, protocolVersion: protocol, storageUri: { type: 'string' }, storage: { type: 'object' },
};
const inferenceServiceSchema = {
  type: 'object', additionalProperties: false, required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'serving.kserve.io/v1beta1' }, kind: { const: 'InferenceService' }, metadata,
    spec: {
      type: 'object', additionalProperties: false, required: ['predictor'],
      properties: {
        transformer: { type: 'object' }, explainer: { type: 'object' },
        predictor: {
          type: 'object', propertyNames: { enum: [...Object.keys(COMPONENT_EXTENSION), 'model', ...POD_SPEC_FIELDS] },
          properties: { ...COMPONENT_EXTENSION, model: { type: 'object', required: ['modelFormat'], properties: MODEL_FIELDS } },
        },
      },
    },
  },
};

const ajv = new Ajv({ allErrors: true, strict: true });
const validateServingRuntime = ajv.compile(servingRuntimeSchema);
const validateInferenceService = ajv.compile(inferenceServiceSchema);

function ajvProblems(where: string, errors: ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${where}${e.instancePath}: ${e.message}${e.params && 'allowedValues' in e.params ? ` ${JSON.stringify(e.params.allowedValues)}` : ''}`);
}

function podSpecProblems(where: string, spec: Record<string, unknown>): string[] {
  return [
    ...unknownFields(where, spec, POD_SPEC_FIELDS),
    ...containerProblems(`${where}.containers`, spec.containers),
    ...containerProblems(`${where}.initContainers`, spec.initContainers),
  ];
}

/** Problems with one manifest object; [] when it is valid. */
export function manifestProblems(object: K8sObject): string[] {
  const id = `${object.kind}/${object.metadata?.name}`;
  const key = `${object.apiVersion}/${object.kind}`;
  if (key === 'serving.kserve.io/v1alpha1/ServingRuntime' || key === 'serving.kserve.io/v1alpha1/ClusterServingRuntime') {
    const spec = object.spec as Record<string, unknown>;
    return validateServingRuntime(object)
      ? containerProblems(`${id} spec.containers`, spec.containers)
      : ajvProblems(id, validateServingRuntime.errors);
  }
  if (key === 'serving.kserve.io/v1beta1/InferenceService') {
    if (!validateInferenceService(object)) return ajvProblems(id, validateInferenceService.errors);
    const predictor = (object.spec as { predictor: Record<string, unknown> }).predictor;
    const { model, ...rest } = predictor;
    const pod = Object.fromEntries(Object.entries(rest).filter(([k]) => POD_SPEC_FIELDS.has(k)));
    const problems = modelProblems(`${id} spec.predictor`, PodSpec as unknown as Model, { containers: [], ...pod });
    if (model !== undefined) {
      // The model spec is a Container plus KServe's model fields; KServe names it kserve-container.
      const container = Object.fromEntries(Object.entries(model as object).filter(([k]) => !(k in MODEL_FIELDS)));
      problems.push(...containerProblems(`${id} spec.predictor.model`, [{ name: 'kserve-container', ...container }]));
    }
    return problems;
  }
  const model = KUBERNETES[key];
  if (model === undefined) return [`${id}: no schema for ${key} (add it to test/support/manifest-schemas.ts)`];
  const problems = modelProblems(id, model, object);
  if (object.kind === 'Deployment') {
    const spec = (object.spec as { template: { spec: Record<string, unknown> } }).template.spec;
    problems.push(...podSpecProblems(`${id} spec.template.spec`, spec));
  }
  return problems;
}
