// "The event loop stays free" (issue 12): tiny-model and CNN requests mixed on one ortserve, at fixed rates from the
// open-loop generator, while lib/loop-probe.mjs inside the server records its event-loop delay. Run for each server
// setting (a name and the CLI flags that select it), alternating settings every repeat, so a mode that runs a
// heavy model on the JS thread shows up as loop delay and as the tiny model's p99.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDriver } from './drivers.mjs';
import { openLoop, processCpuMs } from './open-loop.mjs';
import { metric, startOrtserve } from './server-process.mjs';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Whether this build of ortserve knows `--<flag>` (its --help lists every flag). */
export function ortserveHasFlag(flag) {
  const help = execFileSync(process.execPath, [path.join(root, 'bin', 'ortserve.js'), '--help'], { encoding: 'utf8' });
  return help.includes(`--${flag}=`) || help.includes(`--${flag} `);
}

/**
 * The settings to compare: `requested` ([{name, flags}], from --loop-mode) when given; otherwise adaptive execution at
 * its default against `--inline_budget_micros=0` when ortserve has that flag, else the one mode there is today
 * (with a note saying so).
 */
export function loopModes(requested) {
  if (requested.length > 0) return { modes: requested, note: '' };
  if (ortserveHasFlag('inline_budget_micros')) {
    return { modes: [{ name: 'default', flags: [] }, { name: 'inline off', flags: ['--inline_budget_micros=0'] }], note: '' };
  }
  return {
    modes: [{ name: 'default (only mode)', flags: [] }],
    note: 'ortserve has no --inline_budget_micros flag yet (adaptive execution is not built): one mode measured, ' +
      'every request runs on the native workers. Pass --loop-mode=NAME:FLAGS to compare settings once it exists.',
  };
}

const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length]);
const latency = (r) => ({ sent: r.sent, ok: r.ok, outcomes: r.outcomes, achievedRps: r.achievedRps, p50: r.p50, p99: r.p99, p999: r.p999, max: r.max });

/**
 * Runs the scenario. `models` from lib/models.mjs saturationModels; rates in requests/s; durations in ms.
 * Resolves with one record per (repeat, mode): {mode, repeat, loop: {p50, p99, p999, max, mean} ms, tiny, cnn
 * (latencies in ms), serverCpuPercent, counts (executions per model during the run), failures}.
 */
export async function runLoopScenario({ models, modes, tinyRate, cnnRate, durationMs, warmupMs, repeats, log = console.log }) {
  const servers = [];
  try {
    for (const mode of modes) {
      const server = await startOrtserve([`--model_base_path=${models.repository}`, '--intra_op_threads=1', '--inter_op_threads=1', ...mode.flags], { loopProbe: true });
      const tiny = await createDriver('fb-http', server, models.tiny.payload);
      const cnn = await createDriver('fb-http', server, models.cnn.payload);
      servers.push({ mode, server, tiny, cnn });
      // Warm-up: both models' first runs and (for adaptive modes) the measurements they decide on.
      await Promise.all([
        openLoop({ rate: tinyRate, durationMs: warmupMs, send: tiny.send }),
        openLoop({ rate: cnnRate, durationMs: warmupMs, send: cnn.send }),
      ]);
    }
    const records = [];
    for (let repeat = 0; repeat < repeats; repeat++) {
      for (const { mode, server, tiny, cnn } of rotate(servers, repeat)) {
        const before = await runCounts(server, models);
        await server.ask({ probe: 'loop-delay', reset: true });
        const cpuStart = processCpuMs(server.pid);
        const started = performance.now();
        const [t, c] = await Promise.all([
          openLoop({ rate: tinyRate, durationMs, send: tiny.send, pacing: 'worker' }),
          openLoop({ rate: cnnRate, durationMs, send: cnn.send, pacing: 'worker' }),
        ]);
        const serverCpuPercent = ((processCpuMs(server.pid) - cpuStart) / (performance.now() - started)) * 100;
        const loop = await server.ask({ probe: 'loop-delay' });
        const after = await runCounts(server, models);
        const failures = [];
        if (t.ok !== t.sent) failures.push(`tiny: ${t.sent - t.ok} of ${t.sent} failed ${JSON.stringify(t.outcomes)}`);
        if (c.ok !== c.sent) failures.push(`cnn: ${c.sent - c.ok} of ${c.sent} failed ${JSON.stringify(c.outcomes)}`);
        const counts = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]]));
        records.push({ mode: mode.name, flags: mode.flags, repeat, loop, tiny: latency(t), cnn: latency(c), serverCpuPercent, counts, failures });
        log(`loop  ${mode.name.padEnd(22)} r${repeat} loop delay p50 ${loop.p50.toFixed(2)} p99 ${loop.p99.toFixed(2)} max ${loop.max.toFixed(1)} ms; ` +
          `tiny p50 ${t.p50.toFixed(2)} p99 ${t.p99.toFixed(2)} ms; cnn p50 ${c.p50.toFixed(2)} p99 ${c.p99.toFixed(2)} ms; ` +
          `server cpu ${serverCpuPercent.toFixed(0)}%${failures.length ? `; FAILED: ${failures.join('; ')}` : ''}`);
      }
    }
    return records;
  } finally {
    for (const s of servers) {
      await s.tiny.close();
      await s.cnn.close();
      await s.server.stop();
    }
  }
}

/** Per model, the ONNX Runtime executions /metrics counts (both modes must run every request). */
async function runCounts(server, models) {
  return {
    tinyExec: await metric(server.origin, 'nv_inference_exec_count', models.tiny.modelName),
    cnnExec: await metric(server.origin, 'nv_inference_exec_count', models.cnn.modelName),
  };
}
