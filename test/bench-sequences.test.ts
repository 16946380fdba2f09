// The streaming-sequences benchmark runs end to end (--smoke: tiny sizes, numbers mean nothing): a server child with
// the stateful and the client-state RNN cell, both modes over REST and gRPC, and a table per protocol. Checks the
// pipeline and what it must report (fewer bytes on the wire with implicit state is a property of the payloads, not
// of timing); never a latency.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

describe('bench/inference/streaming-sequences.bench.mjs', () => {
  it('runs both modes over REST and gRPC and reports latency and bytes per step', () => {
    const out = execFileSync(process.execPath, [path.join(__dirname, '..', 'bench', 'inference', 'streaming-sequences.bench.mjs'), '--smoke'], { encoding: 'utf8', timeout: 120_000 });
    for (const protocol of ['rest', 'grpc']) {
      const section = out.split(`## ${protocol}`)[1]!.split('##')[0]!;
      const rows = Object.fromEntries(section.split('\n').filter((l) => /^\| (implicit|client) \|/.test(l)).map((l) => {
        const cells = l.split('|').map((c) => c.trim());
        return [cells[1], { sent: Number(cells[4]), received: Number(cells[5]) }];
      }));
      // The client-state mode carries the 16-float state both ways; implicit state carries none.
      expect(rows['implicit']!.sent).toBeLessThan(rows['client']!.sent);
      expect(rows['implicit']!.received).toBeLessThan(rows['client']!.received);
      expect(section).toMatch(/implicit \/ client, per repeat: p50 \d/);
    }
  }, 180_000);
});
