// The pure parts of weighted traffic: the config's traffic fields, the rollback window's verdicts, the split's choices.

import { describe, expect, it } from 'vitest';
import { modelConfigToJson, parseModelServerConfig, type ConfigFormat } from '../src/config/model-config.js';
import { OutcomeWindow } from '../src/registry/outcome-window.js';
import { TrafficSplit } from '../src/registry/traffic-split.js';
import { decodeInferRequest, encodeInferRequest } from '../src/protocol/flatbuffers/messages.js';

const parse = (text: string, format: ConfigFormat = 'yaml') =>
  parseModelServerConfig(text, { format, source: 'models.yaml', baseDir: '/' }).models[0]!;
const entry = (fields: string) => `model_config_list:\n  config:\n    - name: m\n      base_path: /m\n${fields}`;

describe('config: traffic and traffic_rollback', () => {
  it('reads YAML, JSON and text format alike, and writes them back in the JSON form', () => {
    const yaml = parse(entry('      traffic: {"1": 90, "2": 10}\n      traffic_rollback: {max_error_percent: 5, max_p99_ms: 250}\n'));
    expect([...yaml.traffic!]).toEqual([[1, 90], [2, 10]]);
    expect(yaml.trafficRollback).toEqual({ baselineVersion: undefined, windowRequests: 100, minRequests: 20, maxErrorPercent: 5, maxP99Ms: 250 });
    const json = parse(JSON.stringify({ model_config_list: { config: [{ name: 'm', base_path: '/m', traffic: { 1: 90, 2: 10 } }] } }));
    expect([...json.traffic!]).toEqual([[1, 90], [2, 10]]);
    const text = parse('model_config_list { config { name: "m" base_path: "/m" traffic { key: "1" value: 90 } traffic { key: "2" value: 10 } ' +
      'traffic_rollback { baseline_version: 1 window_requests: 50 min_requests: 5 max_error_percent: 1 } } }', 'pbtxt');
    expect([...text.traffic!]).toEqual([[1, 90], [2, 10]]);
    expect(text.trafficRollback).toMatchObject({ baselineVersion: 1, windowRequests: 50, minRequests: 5, maxErrorPercent: 1 });
    expect(modelConfigToJson(yaml)).toMatchObject({
      traffic: { 1: 90, 2: 10 }, traffic_rollback: { window_requests: 100, min_requests: 20, max_error_percent: 5, max_p99_ms: 250 },
    });
    expect(modelConfigToJson(parse(entry('')))).not.toHaveProperty('traffic');
  });

  it('refuses bad weights and thresholds, naming line and field', () => {
    const bad: Array<[string, RegExp]> = [
      ['      traffic: {"x": 1}\n', /models\.yaml:5:17: model_config_list\.config\[0\]\.traffic\["x"\]: 'x' is not a version number/],
      ['      traffic: {"1": -1}\n', /traffic\["1"\]: -1 is outside 0\.\.1000000/],
      ['      traffic: {"1": 0}\n', /traffic: at least one version needs a positive weight/],
      ['      traffic: {"1": 1.5}\n', /traffic\["1"\]: .*not an integer/],
      ['      traffic_rollback: {window_requests: 10}\n', /traffic_rollback: give max_error_percent, max_p99_ms or both/],
      ['      traffic_rollback: {max_error_percent: 101}\n', /traffic_rollback\.max_error_percent: 101 is outside 0\.\.100/],
      ['      traffic_rollback: {max_p99_ms: 5, window_requests: 10, min_requests: 11}\n', /traffic_rollback\.min_requests: 11 exceeds window_requests \(10\)/],
      ['      traffic_rollback: {max_p99_ms: 5, window: 10}\n', /traffic_rollback\.window: unknown field/],
    ];
    for (const [fields, message] of bad) expect(() => parse(entry(fields)), fields).toThrow(message);
  });
});

describe('OutcomeWindow', () => {
  it('error rate: judged only from min_requests on, strictly above the percentage, over the last N outcomes', () => {
    const w = new OutcomeWindow(10, Number.POSITIVE_INFINITY);
    const t = { minRequests: 5, maxErrorPercent: 20 };
    for (let i = 0; i < 4; i++) w.add(true, 1);
    expect(w.judge(t)).toBeUndefined();            // 4 outcomes < min_requests 5
    w.add(false, 1);
    expect(w.judge(t)?.reason).toBe('error rate 80.0% over the last 5 requests exceeds max_error_percent 20%');
    const healthy = new OutcomeWindow(10, Number.POSITIVE_INFINITY);
    for (let i = 0; i < 8; i++) healthy.add(false, 1);
    healthy.add(true, 1);
    healthy.add(true, 1);
    expect(healthy.judge(t)).toBeUndefined();      // 2 of 10 = 20%, not above
    healthy.add(true, 1);                          // drops a success: 3 of 10
    expect([healthy.size, healthy.failures]).toEqual([10, 3]);
    expect(healthy.judge(t)?.reason).toMatch(/^error rate 30\.0% over the last 10 requests/);
    for (let i = 0; i < 10; i++) healthy.add(false, 1);
    expect(healthy.failures).toBe(0);              // every failure has left the window
  });

  it('p99: over the bound exactly when the nearest-rank 99th percentile of the window is', () => {
    const samples = (n: number, slow: number) => Array.from({ length: n }, (_, i) => (i < slow ? 500 : 10));
    const nearestRankP99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(0.99 * xs.length) - 1]!;
    for (const [n, slow] of [[100, 1], [100, 2], [200, 2], [200, 3], [20, 1], [20, 0], [150, 1], [150, 2]] as const) {
      const w = new OutcomeWindow(1000, 250);
      for (const ms of samples(n, slow)) w.add(false, ms);
      const over = nearestRankP99(samples(n, slow)) > 250;
      expect(w.judge({ minRequests: 1, maxP99Ms: 250 }) !== undefined, `n=${n} slow=${slow}`).toBe(over);
    }
  });
});

describe('TrafficSplit', () => {
  it('smooth round-robin gives each version exactly its weight in every cycle, interleaved', () => {
    const split = new TrafficSplit(new Map([[1, 3], [2, 1], [3, 0]]), 'api', 100, undefined);
    split.update(() => true);
    const picks = Array.from({ length: 8 }, () => split.choose(undefined));
    expect(picks).toEqual([1, 1, 2, 1, 1, 1, 2, 1]);
    expect(split.recentCounts().counts).toEqual(new Map([[1, 6], [2, 2]]));
  });

  it('a version that is not AVAILABLE leaves the table; with none left, choose() defers to the policy', () => {
    const split = new TrafficSplit(new Map([[1, 1], [2, 1]]), 'api', 10, undefined);
    split.update((v) => v === 1);
    expect(new Set(Array.from({ length: 6 }, () => split.choose('k' + Math.random())))).toEqual(new Set([1]));
    split.update(() => false);
    expect(split.choose(undefined)).toBeUndefined();
  });

  it('the automatic rollback never judges the baseline and acts once', () => {
    const policy = { windowRequests: 4, minRequests: 2, maxErrorPercent: 0 };
    const split = new TrafficSplit(new Map([[1, 1], [2, 1]]), 'api', 10, policy);
    split.update(() => true);
    expect(split.baseline).toBe(1);
    expect(split.record(1, true, 1)).toBeUndefined();
    expect(split.record(1, true, 1)).toBeUndefined();
    expect(split.record(2, true, 1)).toBeUndefined();   // one outcome < min_requests
    expect(split.record(2, false, 1)?.reason).toBe('error rate 50.0% over the last 2 requests exceeds max_error_percent 0%');
    expect([...split.effective()]).toEqual([[1, 1]]);
    expect(split.record(2, true, 1)).toBeUndefined();   // already at weight 0
  });
});

describe('FlatBuffers InferRequest.route_key (field 9, appended)', () => {
  it('round-trips, and a request written without it (revision 1) reads as no key', () => {
    const base = { id: '1', model: 'm', inputs: new Map(), outputs: [] };
    expect(decodeInferRequest(encodeInferRequest({ ...base, routeKey: 'user-7' })).routeKey).toBe('user-7');
    const old = encodeInferRequest(base);
    expect(decodeInferRequest(old).routeKey).toBeUndefined();
    // The field is appended: the vtable of a revision-1 request lists no field past priority (id 8), and one with a
    // key lists exactly one more (vtable size = 4 + 2 × fields).
    const vtableSize = (bytes: Uint8Array) => {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const table = view.getUint32(0, true);
      return view.getUint16(table - view.getInt32(table, true), true);
    };
    expect(vtableSize(encodeInferRequest({ ...base, routeKey: 'k' }))).toBe(4 + 2 * 10);
    expect(vtableSize(old)).toBeLessThanOrEqual(4 + 2 * 9);
  });
});
