/**
 * The primary's end of WriteForwarding.Forward (proto/internal/v1/forwarding.proto):
 * each call in a replica's message is one write RPC, served exactly as if it
 * had been called directly (lib/grpc/handler.ts, `forwardedRoutes`). All calls
 * of a message start in the same turn, so they share a group commit; the
 * answers ready in one turn go back as one message.
 *
 * Every node serves it (the role can change); on a replica the hop marker
 * makes each call fail with a retryable UNAVAILABLE, as a forwarded unary
 * call would. On shutdown, `drain` refuses new calls and ends each stream once
 * its calls are answered, so the server can stop without cutting a write.
 */
import * as grpc from '@grpc/grpc-js';
import type { ForwardedAnswer } from '../../gen/ts/internal/v1/ForwardedAnswer.js';
import type { ForwardedAnswers } from '../../gen/ts/internal/v1/ForwardedAnswers.js';
import type { ForwardedCall__Output } from '../../gen/ts/internal/v1/ForwardedCall.js';
import type { ForwardedCalls__Output } from '../../gen/ts/internal/v1/ForwardedCalls.js';
import { Status } from '../errors.js';
import { FORWARDED_HEADER, ForwardMethod, MaxForwardedMessageBytes, metadataOf } from './forward.js';
import type { ForwardedRoute } from './handler.js';

type Stream = grpc.ServerDuplexStream<ForwardedCalls__Output, ForwardedAnswers>;

interface StreamState {
  call: Stream;
  /** Calls received and not yet answered. */
  inflight: number;
  /** The replica has closed its side (it sends no more calls). */
  halfClosed: boolean;
  finished: boolean;
  /** Answers of this turn, sent together at its end. */
  outbox: ForwardedAnswer[];
}

export class ForwardingServer {
  private readonly routes = new Map<string, ForwardedRoute>();
  private readonly streams = new Set<StreamState>();
  private draining = false;

  /** The service definition to register on a grpc-js server with `implementation()`. */
  static readonly definition: grpc.ServiceDefinition = { Forward: ForwardMethod };

  addRoutes(routes: Map<string, ForwardedRoute>): void {
    for (const [path, route] of routes) this.routes.set(path, route);
  }

  implementation(): grpc.UntypedServiceImplementation {
    return { Forward: (call: Stream) => this.serve(call) };
  }

  /** Refuses calls from now on; each stream ends once its calls have their answers. */
  drain(): void {
    this.draining = true;
    for (const state of this.streams) this.endIfIdle(state);
  }

  private serve(call: Stream): void {
    const state: StreamState = { call, inflight: 0, halfClosed: false, finished: false, outbox: [] };
    this.streams.add(state);
    const peer = call.getPeer();
    const from = call.metadata.get(FORWARDED_HEADER)[0]?.toString() ?? 'a replica';
    call.on('data', (message: ForwardedCalls__Output) => {
      for (const forwarded of message.calls) {
        state.inflight += 1;
        void this.handle(forwarded, peer, from).then((answer) => {
          state.inflight -= 1;
          if (state.outbox.length === 0) setImmediate(() => this.flush(state));
          state.outbox.push(answer);
        });
      }
    });
    call.on('end', () => {
      state.halfClosed = true;
      this.endIfIdle(state);
    });
    const gone = () => {
      state.finished = true;
      this.streams.delete(state);
    };
    call.on('cancelled', gone);
    call.on('error', gone);
    if (this.draining) this.endIfIdle(state);
  }

  private flush(state: StreamState): void {
    const answers = state.outbox;
    state.outbox = [];
    // Several messages when they would not fit one (the replica's limit is the channel's default, 4 MiB).
    let batch: ForwardedAnswer[] = [];
    let bytes = 0;
    for (const answer of answers) {
      const size = 64 + (answer.details?.length ?? 0) + ((answer.response as Buffer | undefined)?.length ?? 0);
      if (batch.length > 0 && bytes + size > MaxForwardedMessageBytes) {
        if (!state.finished) state.call.write({ answers: batch });
        batch = [];
        bytes = 0;
      }
      batch.push(answer);
      bytes += size;
    }
    if (!state.finished && batch.length > 0) state.call.write({ answers: batch });
    this.endIfIdle(state);
  }

  private endIfIdle(state: StreamState): void {
    if (state.finished || state.inflight > 0 || state.outbox.length > 0 || !(state.halfClosed || this.draining)) return;
    state.finished = true;
    this.streams.delete(state);
    state.call.end();
  }

  /** One forwarded call to its answer. Never rejects. */
  private async handle(message: ForwardedCall__Output, peer: string, from: string): Promise<ForwardedAnswer> {
    const refuse = (code: Status, details: string): ForwardedAnswer => ({ id: message.id, code, details });
    if (this.draining) return refuse(Status.UNAVAILABLE, 'the primary is shutting down: retry');
    const route = this.routes.get(message.method);
    if (!route) return refuse(Status.UNIMPLEMENTED, `${message.method} is not a write served here`);
    const deadline = Number(message.deadline_ms);
    if (deadline > 0 && deadline <= Date.now()) return refuse(Status.DEADLINE_EXCEEDED, 'deadline exceeded before the primary started the write');

    let metadata: grpc.Metadata;
    try {
      metadata = metadataOf(message.metadata);
    } catch {
      return refuse(Status.INVALID_ARGUMENT, 'the forwarded call carries invalid metadata');
    }
    if (metadata.get(FORWARDED_HEADER).length === 0) metadata.set(FORWARDED_HEADER, from);

    let out;
    try {
      out = await route(message.request, metadata, peer);
    } catch {
      return refuse(Status.INTERNAL, 'internal error'); // only a response the method cannot serialize gets here
    }
    return { id: message.id, code: out.code, details: out.details, response: out.response, txid: out.txid?.toString() ?? '0', headers: out.headers };
  }
}
