// The gRPC listener and its connection limit: ortserve owns the listening socket, counts connections, and hands each
// to grpc-js (Server.createConnectionInjector); a connection past --grpc_max_connections has its calls refused.

import net, { type AddressInfo } from 'node:net';
import { ServerInterceptingCall, type ConnectionInjector, type ServerInterceptor } from '@grpc/grpc-js';
import { OrtServeError } from '../../errors.js';
import { toServiceError } from './grpc-calls.js';
import type { GrpcActivity } from './grpc-context.js';

/** How long a refused connection stays open, so that the calls it sends are answered with the reason. */
const REFUSED_LINGER_MS = 1000;
/** Refused connections lingering at once; past this a connection is closed at once, unanswered (a flood costs nothing). */
const MAX_LINGERING = 64;

/** A connection as grpc-js's ServerInterceptingCall.getPeer() spells it (address:port of the client's socket). */
function peerOf(socket: net.Socket): string | undefined {
  return socket.remoteAddress !== undefined && socket.remotePort !== undefined ? `${socket.remoteAddress}:${socket.remotePort}` : undefined;
}

/**
 * Admits connections up to `maxConnections` (counted in `activity.connections` until each closes). grpc-js has no
 * connection limit of its own (1.14: only per-connection ones), and refusing at accept() would leave the client with
 * a bare "connection reset"; so a connection past the limit is accepted, each call on it fails with UNAVAILABLE
 * naming the flag (the interceptor below), and the connection is destroyed after REFUSED_LINGER_MS. It is not counted.
 */
export class ConnectionGate {
  private listener: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** Peers of refused connections still open. */
  private readonly refused = new Set<string>();

  constructor(private readonly maxConnections: number, private readonly activity: GrpcActivity) {}

  /** Refuses every call that arrives on a refused connection; other calls pass through untouched. */
  readonly interceptor: ServerInterceptor = (_method, call) => {
    // grpc-js chains interceptors by calling each on the previous call, so handing the call back adds no per-call
    // work; its typing asks for the wrapper class only because interceptors usually build one.
    if (!this.refused.has(call.getPeer())) return call as ServerInterceptingCall;
    const refusal = new OrtServeError('ERR_QUEUE_FULL',
      `gRPC connection refused: ${this.activity.connections} connections are open, the limit (--grpc_max_connections); retry later`);
    const status = { code: refusal.grpcStatus, details: refusal.message, metadata: toServiceError(refusal).metadata };
    return new ServerInterceptingCall(call, {
      // The handler never starts: the metadata is not passed on.
      start: (next) => next({ onReceiveMetadata: () => call.sendStatus(status) }),
    });
  };

  /** Listens on host:port and hands each admitted connection to `injector`; resolves with the bound port. */
  listen(host: string, port: number, injector: ConnectionInjector): Promise<number> {
    const listener = net.createServer((socket) => this.admit(socket, injector));
    this.listener = listener;
    return new Promise((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(port, host, () => {
        listener.off('error', reject);
        resolve((listener.address() as AddressInfo).port);
      });
    });
  }

  /** Sockets and refused peers the gate tracks now (both 0 once every connection has closed). */
  tracked(): { sockets: number; refusedPeers: number } {
    return { sockets: this.sockets.size, refusedPeers: this.refused.size };
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

  private admit(socket: net.Socket, injector: ConnectionInjector): void {
    const peer = peerOf(socket);
    if (peer === undefined) {
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
    } else if (this.refused.size < MAX_LINGERING) {
      this.refused.add(peer);
      const timer = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS).unref();
      socket.once('close', () => {
        clearTimeout(timer);
        this.sockets.delete(socket);
        this.refused.delete(peer);
      });
    } else {
      this.sockets.delete(socket);
      socket.destroy();
      return;
    }
    injector.injectConnection(socket);
  }
}
