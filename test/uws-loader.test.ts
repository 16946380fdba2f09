// Tests that uWebSockets.js loads here (patched for glibc < 2.38 where needed) and serves a real HTTP request.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { loadUws } from '../src/frontends/uws-loader.js';
import { PINNED_UWS_BINARIES, needsUwsGlibcCompat, uwsBinaryName } from '../scripts/uws-glibc-compat.mjs';

function listen(app: TemplatedApp, host: string, port: number): Promise<us_listen_socket> {
  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (socket) resolve(socket);
      else reject(new Error(`uWS could not listen on ${host}:${port}`));
    });
  });
}

describe('loadUws', () => {
  it('returns a module whose App answers a real HTTP GET', async () => {
    const uWS = loadUws();
    const app = uWS.App().get('/*', (res) => {
      res.end('ok');
    });
    const socket = await listen(app, '127.0.0.1', 0);
    try {
      const port = uWS.us_socket_local_port(socket);
      expect(port).toBeGreaterThan(0);
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('ok');
    } finally {
      uWS.us_listen_socket_close(socket);
    }
  });
});

describe('uws-glibc-compat', () => {
  it.skipIf(!needsUwsGlibcCompat())('leaves the binary for this Node at the pinned patched hash (glibc < 2.38)', () => {
    const abi = process.versions.modules as keyof typeof PINNED_UWS_BINARIES;
    const pins = PINNED_UWS_BINARIES[abi];
    expect(pins, `no pinned binary for Node ABI ${abi}`).toBeDefined();
    const packageDir = path.dirname(createRequire(import.meta.url).resolve('uWebSockets.js'));
    const binary = readFileSync(path.join(packageDir, uwsBinaryName(abi)));
    expect(createHash('sha256').update(binary).digest('hex')).toBe(pins.patched);
  });
});
