// The gRPC faces of the management API (Triton's repository RPCs, TF Serving's HandleReloadConfigRequest): the same
// guard (--management_token_file, bearer token) and the same registry operations as the REST management routes.

import { fail } from '../../errors.js';
import { parseModelEntry, parseModelServerConfig } from '../../config/model-config.js';
import { MAX_CONFIG_ENTRIES } from '../../config/config-limits.js';
import type { ManagementContext } from '../management/management-routes.js';
import { repositoryIndex, type IndexEntry } from '../management/model-report-json.js';
import type { ModelConfig__Output } from './generated/tensorflow/serving/ModelConfig.js';
import type { ModelServerConfig__Output } from './generated/tensorflow/serving/ModelServerConfig.js';

/**
 * Throws unless the management API is on and `authorization` (the call's "authorization" metadata) carries its
 * bearer token. Off answers UNIMPLEMENTED: for a gRPC client the methods do not exist on this server.
 */
export function authorizeManagement(ctx: ManagementContext, authorization: string | undefined, method: string): void {
  if (ctx.token === undefined) fail('ERR_NOT_IMPLEMENTED', `${method}: the management API is off (start ortserve with --management_token_file)`);
  ctx.token.check(authorization ?? '');
}

export function indexModels(ctx: ManagementContext, readyOnly: boolean): IndexEntry[] {
  return repositoryIndex(ctx.registry.describe(), readyOnly);
}

/** Loads `name`; a string parameter "config" (YAML/JSON of one model's entry) adds or replaces its config, as over REST. */
export async function loadModel(ctx: ManagementContext, name: string, parameters: Record<string, unknown>): Promise<void> {
  if (name === '') fail('ERR_BAD_REQUEST', 'model_name: required');
  const config = parameters['config'];
  if (config !== undefined && typeof config !== 'string') fail('ERR_BAD_REQUEST', 'parameters["config"]: expected a string_param holding the model\'s config');
  const entry = config === undefined ? undefined : parseModelEntry(config, { format: 'yaml', source: 'parameters["config"]', baseDir: process.cwd(), maxBytes: ctx.maxConfigBytes }, name);
  await ctx.registry.loadModel(name, entry);
}

export async function unloadModel(ctx: ManagementContext, name: string): Promise<void> {
  if (name === '') fail('ERR_BAD_REQUEST', 'model_name: required');
  await ctx.registry.unloadModel(name);
}

/** One model as the config file's JSON form spells it; proto3 defaults (unset) are left out as if not written. */
function modelJson(c: ModelConfig__Output): Record<string, unknown> {
  const out: Record<string, unknown> = { name: c.name, base_path: c.base_path };
  if (c.model_platform !== '') out['model_platform'] = c.model_platform;
  if (c.model_type !== 'MODEL_TYPE_UNSPECIFIED') out['model_type'] = c.model_type; // the parser says why it is refused
  const p = c.model_version_policy;
  // latest { num_versions: 0 } is how proto3 writes `latest {}`: the default, one version.
  if (p?.policy_choice === 'latest') out['model_version_policy'] = { latest: p.latest?.num_versions ? { num_versions: p.latest.num_versions } : {} };
  if (p?.policy_choice === 'all') out['model_version_policy'] = { all: {} };
  if (p?.policy_choice === 'specific') out['model_version_policy'] = { specific: { versions: (p.specific?.versions ?? []).map(Number) } };
  const labels = Object.entries(c.version_labels);
  if (labels.length > 0) out['version_labels'] = Object.fromEntries(labels.map(([label, v]) => [label, Number(v)]));
  return out;
}

/**
 * Replaces the served models (models absent from `config` are unloaded). The message's field names are the config
 * file's, so its JSON form goes through the config parser: the same checks and messages, naming the field.
 */
export async function reloadConfig(ctx: ManagementContext, config: ModelServerConfig__Output | null): Promise<void> {
  if (config === null || config.config === undefined) fail('ERR_BAD_REQUEST', 'config: required (a model_config_list)');
  if (config.config === 'custom_model_config') fail('ERR_NOT_IMPLEMENTED', 'config.custom_model_config: ortserve reads only model_config_list');
  const models = config.model_config_list?.config ?? [];
  // Checked before each entry is turned into JSON; the JSON form's size is checked by the parser (--max_config_bytes).
  if (models.length > MAX_CONFIG_ENTRIES) fail('ERR_CONFIG', `ReloadConfigRequest.config.model_config_list.config: more than ${MAX_CONFIG_ENTRIES} values`);
  const json = { model_config_list: { config: models.map(modelJson) } };
  const parsed = parseModelServerConfig(JSON.stringify(json), {
    format: 'yaml', source: 'ReloadConfigRequest.config', baseDir: process.cwd(), maxBytes: ctx.maxConfigBytes,
  });
  await ctx.registry.applyConfig(parsed, { source: 'gRPC HandleReloadConfigRequest' });
}
