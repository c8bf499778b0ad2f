/**
 * The seam between the connector core and a transport.
 *
 * The core reads decoded requests from an AsyncIterable and writes responses
 * to a ResponseSink. stdio and gRPC each provide both, so a connector runs
 * unchanged over either.
 */
export interface ResponseSink<Res> {
  /**
   * Queue one response. Returns a promise when the transport wants the
   * caller to wait before sending more (backpressure); callers must await it.
   */
  send(res: Res): void | Promise<void>;
  /**
   * Optional, capture only: queue a capture.Response.captured from its two
   * fields, exactly as send() of `{ captured: { binding, docJson } }` would,
   * without the caller building the message. Same return as send().
   */
  sendCaptured?(binding: number, docJson: string | Uint8Array): void | Promise<void>;
  /**
   * Optional, capture only: queue the capture.Response.captured of each
   * document of a batch of one binding, in order, exactly as sendCaptured()
   * of each would: document k is `bytes[ends[k-1], ends[k])` (the first
   * starts at 0) and `ends[count-1]` is `bytes.length`. The bytes are taken
   * (copied) before it returns. Same return as send().
   */
  sendCapturedBatch?(binding: number, bytes: Uint8Array, ends: ArrayLike<number>, count: number): void | Promise<void>;
  /**
   * Optional, materialize only: queue a materialize.Response.loaded from its
   * two fields, exactly as send() of `{ loaded: { binding, docJson } }`
   * would, without the caller building the message. The bytes are taken
   * (copied or kept) before it returns. Same return as send().
   */
  sendLoaded?(binding: number, docJson: Uint8Array): void | Promise<void>;
  /**
   * Optional, materialize only: queue the materialize.Response.loaded of
   * each document of a batch of one binding, in order, exactly as
   * sendLoaded() of each would: document k is `bytes[starts[k], ends[k])`.
   * The bytes are taken (copied) before it returns, so the caller may reuse
   * the buffer and the span arrays. Same return as send().
   */
  sendLoadedBatch?(binding: number, bytes: Uint8Array, starts: ArrayLike<number>, ends: ArrayLike<number>, count: number): void | Promise<void>;
  /**
   * Push everything queued so far to the peer. The core calls this at the
   * protocol's boundaries: a unary response, Checkpoint, Flushed,
   * StartedCommit and Acknowledged.
   */
  flush(): Promise<void>;
}
