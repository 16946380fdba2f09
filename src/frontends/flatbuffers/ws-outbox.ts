// A FlatBuffers WebSocket's outgoing messages, in order: a small one handed to uWS at once, a large one as fragments
// of at most --wire_slice_bytes, one per turn of the event loop.
//
// Why: uWS copies what the socket does not take at once into its own buffer, in one piece on the event-loop thread
// (a 46 MB answer: tens of ms during which no other client is served). Sent as fragments (one WebSocket message in
// several frames, which every client reassembles), each turn copies at most one fragment, and the next waits while
// uWS still holds more than a fragment unsent (its `drain` event resumes it). The message's bytes are the same.

import type { WebSocket } from 'uWebSockets.js';

/** uWS.js's fragment calls (WebSocketWrapper in its binary; its typings leave them out). Each returns send()'s status. */
interface FragmentSender {
  sendFirstFragment(message: Uint8Array, isBinary?: boolean, compress?: boolean): number;
  sendFragment(message: Uint8Array, compress?: boolean): number;
  sendLastFragment(message: Uint8Array, compress?: boolean): number;
}

export class WsOutbox {
  /**
   * Messages not (wholly) handed to uWS yet, each with the release of its count in the server's bytes in flight; the
   * first may be part sent (`offset`).
   */
  private readonly queue: Array<{ bytes: Uint8Array; sent: () => void }> = [];
  /** Their bytes not handed to uWS yet. */
  private queuedBytes = 0;
  private offset = 0;
  private waitingDrain = false;

  /**
   * `fragmentBytes`: the most handed to uWS per turn (--wire_slice_bytes). `maxBackpressureBytes`: a client whose
   * unsent replies (uWS's, and these while the socket takes no more) pass it when another is sent is disconnected, as
   * uWS itself does (--ws_max_backpressure_bytes, closeOnBackpressureLimit). `isOpen`: false once the connection closed.
   * `count`: counts a message that waits here in the server's bytes in flight (it is an answer not handed off yet, so
   * answers backed up behind slow clients hold new requests back); returns the release.
   */
  constructor(
    private readonly ws: WebSocket<unknown>, private readonly fragmentBytes: number, private readonly maxBackpressureBytes: number,
    private readonly isOpen: () => boolean, private readonly count: (bytes: number) => () => void,
  ) {}

  /** Sends `bytes` as one binary message, after every message sent before it. */
  send(bytes: Uint8Array): void {
    if (!this.isOpen()) return;
    if (this.queue.length === 0 && bytes.length <= this.fragmentBytes) {
      // The common case, as before: uWS sends it (corked: outside uWS's callbacks an uncorked send waits for a poll).
      this.ws.cork(() => this.ws.send(bytes, true));
      return;
    }
    // The client is not reading: what uWS's closeOnBackpressureLimit does to a send past the limit. What waits here
    // counts only while uWS cannot hand more to the socket (before that, it waits on our pace, not on the client).
    const unsent = this.ws.getBufferedAmount() + (this.waitingDrain ? this.queuedBytes : 0);
    if (unsent > this.maxBackpressureBytes) {
      this.ws.close();
      return;
    }
    this.queue.push({ bytes, sent: this.count(bytes.length) });
    this.queuedBytes += bytes.length;
    if (this.queue.length === 1) setImmediate(this.turn);
  }

  /** The connection closed: what waits is dropped (and given back from the bytes in flight). */
  closed(): void {
    for (const { sent } of this.queue.splice(0)) sent();
    this.queuedBytes = 0;
    this.offset = 0;
    this.waitingDrain = false;
  }

  /** uWS's drain event: uWS sent some of what it held; a fragment waiting for that goes now. */
  drained(): void {
    if (!this.waitingDrain) return;
    this.waitingDrain = false;
    this.turn();
  }

  /** Hands uWS the next message or fragment, then schedules the next turn while anything is left. */
  private readonly turn = (): void => {
    if (!this.isOpen()) {
      this.closed();
      return;
    }
    if (this.ws.getBufferedAmount() > this.fragmentBytes) {
      this.waitingDrain = true;
      return;
    }
    const { bytes: message, sent } = this.queue[0]!;
    const end = Math.min(message.length, this.offset + this.fragmentBytes);
    const piece = message.subarray(this.offset, end);
    const ws = this.ws as unknown as FragmentSender & WebSocket<unknown>;
    ws.cork(() => {
      if (this.offset === 0 && end === message.length) ws.send(piece, true);
      else if (this.offset === 0) ws.sendFirstFragment(piece, true, false);
      else if (end === message.length) ws.sendLastFragment(piece, false);
      else ws.sendFragment(piece, false);
    });
    this.queuedBytes -= piece.length;
    if (end === message.length) {
      this.queue.shift();
      this.offset = 0;
      sent();
    } else {
      this.offset = end;
    }
    if (this.queue.length > 0) setImmediate(this.turn);
  };
}
