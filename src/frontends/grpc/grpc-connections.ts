// The gRPC listener and its connection limit: ortserve owns the listening socket, counts connections, and hands each
// to grpc-js (Server.createConnectionInjector); a connection past --grpc_max_connections goes to a server that
// refuses its calls.

import net, { type AddressInfo } from 'node:net';
import { ServerInterceptingCall, type ConnectionInjector, type ServerInterceptor } from '@grpc/grpc-js';
import { OrtServeError } from '../../errors.js';
import { toServiceError } from './grpc-calls.js';
import type { GrpcActivity } from './grpc-context.js';

/** How long a refused connection stays open, so that the calls it sends are answered with the reason. */
const REFUSED_LINGER_MS = 1000;
/** Refused connections lingering at once; past this a connection is closed at once, unanswered (a flood costs nothing). */
const MAX_LINGERING = 64;

/**
 * Admits connections up to `maxConnections` (counted in `activity.connections` until each closes). grpc-js has no
 * connection limit of its own (1.14: only per-connection ones), and refusing at accept() would leave the client with
 * a bare "connection reset"; so a connection past the limit is accepted and handed to a second grpc-js server whose
 * every call fails with UNAVAILABLE naming the flag (`refusingInterceptor`), and it is destroyed after
 * REFUSED_LINGER_MS. It is not counted. (A second server, rather than one interceptor on the serving server that looks
 * up each call's peer, because an interceptor there costs every call on every admitted connection.)
 */
export class ConnectionGate {
  private listener: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Refused connections still open. */
  private lingering = 0;

  constructor(private readonly maxConnections: number, private readonly activity: GrpcActivity) {}

  /** The interceptor of the refusing server: every call there is answered with the refusal, its handler never runs. */
  readonly refusingInterceptor: ServerInterceptor = (_method, call) => {
    const refusal = new OrtServeError('ERR_QUEUE_FULL',
      `gRPC connection refused: ${this.activity.connections} connections are open, the limit (--grpc_max_connections); retry later`);
    const status = { code: refusal.grpcStatus, details: refusal.message, metadata: toServiceError(refusal).metadata };
    return new ServerInterceptingCall(call, {
      // The handler never starts: the metadata is not passed on.
      start: (next) => next({ onReceiveMetadata: () => call.sendStatus(status) }),
    });
  };

  /**
   * Listens on host:port and hands each admitted connection to `admitted`, each one past the limit to `refused` (the
   * refusing server's injector); resolves with the bound port.
   */
  listen(host: string, port: number, admitted: ConnectionInjector, refused: ConnectionInjector): Promise<number> {
    const listener = net.createServer((socket) => this.admit(socket, admitted, refused));
    this.listener = listener;
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, host, () => {
        listener.off('error', reject);
        resolve((listener.address() as AddressInfo).port);
      });
    });
  }

  /** Sockets and refused connections the gate tracks now (both 0 once every connection has closed). */
  tracked(): { sockets: number; refusedPeers: number } {
    return { sockets: this.sockets.size, refusedPeers: this.lingering };
  }

  /** Stops accepting connections; those open stay open (shutdown's first step). */
  stopListening(): void {
    this.listener?.close();
    this.listener = undefined;
  }

  /** Stops listening and destroys every connection still open (the caller has already cancelled their calls). */
  close(): void {
    this.stopListening();
    for (const socket of this.sockets) socket.destroy();
  }

  private admit(socket: net.Socket, admitted: ConnectionInjector, refused: ConnectionInjector): void {
    if (socket.remoteAddress === undefined || socket.remotePort === undefined) {
      socket.destroy();   // already gone
      return;
    }
    this.sockets.add(socket);
    if (this.activity.connections < this.maxConnections) {
      this.activity.connections++;
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.activity.connections--;
      });
      admitted.injectConnection(socket);
    } else if (this.lingering < MAX_LINGERING) {
      this.lingering++;
      const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
      socket.once('close', () => {
        clearTimeout(timer);
        this.sockets.delete(socket);
        this.lingering--;
      });
      refused.injectConnection(socket);
    } else {
      this.sockets.delete(socket);
      socket.destroy();
    }
  }
}
