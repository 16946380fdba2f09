// MtlsFront: mutual TLS for the REST port. node:tls terminates TLS and refuses, in the handshake, a client without a
// certificate signed by the CA; the bytes of the clients it lets in go on to the plain uWS app on a private unix socket.

/*
 * Why not uWS's own SSLApp: uWebSockets.js 20.57 given a CA asks clients for a certificate but lets one without a
 * certificate (or with one it cannot verify) through, and tells the application nothing about it (tested in
 * test/tls.test.ts). So with --ssl_client_verify the REST port is this front; without it, TLS stays in uWS's SSLApp.
 * The unix socket lives in a directory only this user can enter (mkdtemp makes it 0700), so no local process can
 * reach the app around the certificate check.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { TlsSettings } from '../../config/tls-config.js';

export class MtlsFront {
  private readonly sockets = new Set<net.Socket>();
  private server: tls.Server | undefined;
  private constructor(readonly socketPath: string, private readonly dir: string) {}

  /** A fresh private directory and the unix socket path the uWS app must listen on (listen_unix) before start(). */
  static prepare(): MtlsFront {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ortserve-rest-'));
    return new MtlsFront(path.join(dir, 'rest.sock'), dir);
  }

  /** Listens on host:port with `settings` (client certificates required); resolves with the bound port. */
  listen(host: string, port: number, settings: TlsSettings): Promise<number> {
    const server = tls.createServer({
      cert: settings.cert, key: settings.key, ca: settings.ca, requestCert: true, rejectUnauthorized: true,
    }, (client) => this.relay(client));
    // A failed handshake (no certificate, an unknown CA) is the refusal itself; nothing to do but let it go.
    server.on('tlsClientError', () => undefined);
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops accepting connections; those open stay open (shutdown's first step). */
  stopListening(): void {
    this.server?.close();
    this.server = undefined;
  }

  /** Stops listening, closes every connection and removes the private directory. */
  close(): void {
    this.stopListening();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private relay(client: tls.TLSSocket): void {
    const app = net.connect(this.socketPath);
    for (const socket of [client, app]) {
      this.sockets.add(socket);
      socket.setNoDelay?.(true);
      socket.on('close', () => this.sockets.delete(socket));
      // Either side going away ends the other: a reset is passed on as one.
      socket.on('error', () => (socket === client ? app : client).destroy());
    }
    client.pipe(app);
    app.pipe(client);
  }
}
