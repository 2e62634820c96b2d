/**
 * The data converter of a worker or client (Temporal's `dataConverter`
 * option, loaded): the payload converter (the module at
 * payloadConverterPath, else the default one) and the payload codecs.
 *
 * Without a data converter nothing changes: values are stored as plain JSON
 * and every method here returns what it was given (arguments aside, which
 * get the header envelope when there are headers).  With one ("payload
 * mode"), every value is stored as the JSON form of its Payload after the
 * codecs encoded it (see common/payload.ts), so the engine's tables hold
 * what the codecs made (ciphertext, with an encryption codec).
 *
 * Workflow code converts values inside its sandbox with the same converter
 * (loaded there from payloadConverterPath); the worker runs the codecs on
 * the history before replay (decodeHistory) and on the commands after
 * (encodeCommands), as Temporal runs codecs outside the workflow sandbox.
 */
import * as path from 'node:path';
import {
  DataConverter, Payload, PayloadCodec, PayloadConverter, PayloadJSON, defaultPayloadConverter, isPayloadJSON,
  mapFailureDetails, payloadFromJSON, payloadToJSON, unwrapInput, wrapInput, HEADERS_KEY,
} from './common/payload';

/** Marker name of local activities (workflow/local-activities.ts; the client must not import workflow code). */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

type Event = { event_type: string; attributes: Record<string, any> };
type Cmd = { type: string; [k: string]: unknown };

export class LoadedDataConverter {
  /** Values are stored as Payloads. */
  readonly payloadMode: boolean;
  readonly payloadConverter: PayloadConverter;
  readonly payloadConverterPath?: string;
  readonly codecs: PayloadCodec[];

  constructor(dc?: DataConverter) {
    this.codecs = dc?.payloadCodecs ?? [];
    this.payloadConverterPath = dc?.payloadConverterPath ? require.resolve(path.resolve(dc.payloadConverterPath)) : undefined;
    this.payloadMode = this.payloadConverterPath !== undefined || this.codecs.length > 0;
    if (this.payloadConverterPath) {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const conv = require(this.payloadConverterPath).payloadConverter;
      if (!conv || typeof conv.toPayload !== 'function' || typeof conv.fromPayload !== 'function') {
        throw new TypeError(`dataConverter.payloadConverterPath: ${this.payloadConverterPath} does not export payloadConverter`);
      }
      this.payloadConverter = conv;
    } else {
      this.payloadConverter = defaultPayloadConverter;
    }
  }

  /* ------------------------------------------------------ codecs only */

  async encodePayloads(ps: Payload[]): Promise<Payload[]> {
    for (const c of this.codecs) ps = await c.encode(ps);
    return ps;
  }

  async decodePayloads(ps: Payload[]): Promise<Payload[]> {
    for (let i = this.codecs.length - 1; i >= 0; i--) ps = await this.codecs[i].decode(ps);
    return ps;
  }

  /** Stored Payload JSON (a value, or the elements of a list) run through the codecs; anything else as it is. */
  private async codecStored(v: unknown, encode: boolean): Promise<unknown> {
    if (!this.codecs.length) return v;
    if (Array.isArray(v)) {
      const idx: number[] = [];
      const ps: Payload[] = [];
      v.forEach((x, i) => {
        if (isPayloadJSON(x)) {
          idx.push(i);
          ps.push(payloadFromJSON(x));
        }
      });
      if (!ps.length) return v;
      const out = encode ? await this.encodePayloads(ps) : await this.decodePayloads(ps);
      const copy = v.slice();
      idx.forEach((i, k) => (copy[i] = payloadToJSON(out[k])));
      return copy;
    }
    if (!isPayloadJSON(v)) return v;
    const [p] = encode ? await this.encodePayloads([payloadFromJSON(v)]) : await this.decodePayloads([payloadFromJSON(v)]);
    return payloadToJSON(p);
  }

  /** A stored input (list, or envelope: headers are not encoded) through the codecs. */
  private async codecInput(input: unknown, encode: boolean): Promise<unknown> {
    if (input && typeof input === 'object' && !Array.isArray(input) && HEADERS_KEY in (input as object)) {
      const o = input as Record<string, unknown>;
      return { ...o, args: await this.codecStored(o.args, encode) };
    }
    return this.codecStored(input, encode);
  }

  /** A failure's details (each a stored value) through the codecs. */
  private async codecFailure(f: unknown, encode: boolean): Promise<unknown> {
    const stored: unknown[] = [];
    mapFailureDetails(f as any, (v) => void stored.push(v));
    if (!stored.length) return f;
    const coded = (await this.codecStored(stored, encode)) as unknown[];
    let i = 0;
    return mapFailureDetails(f as any, () => coded[i++]);
  }

  /** A failure (from encodeFailure) as stored: its details through the converter and codecs. */
  async failureToStored<F>(f: F): Promise<F> {
    if (!this.payloadMode) return f;
    const values: unknown[] = [];
    mapFailureDetails(f as any, (v) => void values.push(v));
    const stored: unknown[] = [];
    for (const v of values) stored.push(await this.toStored(v));
    let i = 0;
    return mapFailureDetails(f as any, () => stored[i++]);
  }

  /**
   * Decode the details of a failure the client received (the cause chain of
   * a WorkflowFailedError), in place: ApplicationFailure and
   * CancelledFailure details, TimeoutFailure's lastHeartbeatDetails.
   */
  async decodeErrorDetails(err: unknown, depth = 0): Promise<void> {
    if (!this.payloadMode || !err || typeof err !== 'object' || depth > 16) return;
    const e = err as Record<string, any>;
    if (e.name !== 'ActivityFailure' && Array.isArray(e.details)) {
      const out: unknown[] = [];
      for (const v of e.details) out.push(await this.fromStored(v));
      Object.defineProperty(e, 'details', { value: out, enumerable: true, configurable: true });
    }
    if (e.name === 'TimeoutFailure' && e.lastHeartbeatDetails !== undefined) {
      Object.defineProperty(e, 'lastHeartbeatDetails', { value: await this.fromStored(e.lastHeartbeatDetails), enumerable: true, configurable: true });
    }
    await this.decodeErrorDetails(e.cause, depth + 1);
  }

  /** A local activity marker's result or failure through the codecs (workflow/local-activities.ts). */
  private async codecMarker(details: any, encode: boolean): Promise<unknown> {
    if (!details || typeof details !== 'object') return details;
    const out = { ...details };
    if (out.result !== undefined) out.result = await this.codecStored(out.result, encode);
    if (out.failure) out.failure = await this.codecFailure(out.failure, encode);
    return out;
  }

  /** A memo's values (each a stored value) through the codecs. */
  private async codecMemo(memo: unknown, encode: boolean): Promise<unknown> {
    if (!memo || typeof memo !== 'object' || Array.isArray(memo)) return memo;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(memo)) out[k] = await this.codecStored(v, encode);
    return out;
  }

  /** A memo as stored: each value through the converter and codecs (Temporal stores memo values as Payloads). */
  async memoToStored(memo: Record<string, unknown> | undefined): Promise<Record<string, unknown> | undefined> {
    if (!memo || !this.payloadMode) return memo;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(memo)) out[k] = await this.toStored(v);
    return out;
  }

  /** A stored memo as values. */
  async memoFromStored(memo: unknown): Promise<unknown> {
    if (!memo || typeof memo !== 'object' || Array.isArray(memo) || !this.payloadMode) return memo;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(memo)) out[k] = await this.fromStored(v);
    return out;
  }

  /** The history with its payloads decoded by the codecs (still Payload JSON: the sandbox converts). */
  async decodeHistory<E extends Event>(events: E[]): Promise<E[]> {
    if (!this.codecs.length) return events;
    const out: E[] = [];
    for (const e of events) {
      const a = e.attributes ?? {};
      switch (e.event_type) {
        case 'WorkflowExecutionStarted':
          out.push({ ...e, attributes: { ...a, input: await this.codecInput(a.input, false), memo: await this.codecMemo(a.memo, false) } });
          break;
        case 'WorkflowExecutionSignaled':
          out.push({ ...e, attributes: { ...a, input: await this.codecInput(a.input, false) } });
          break;
        case 'ActivityTaskCompleted':
          out.push({ ...e, attributes: { ...a, result: await this.codecStored(a.result, false) } });
          break;
        case 'ActivityTaskCanceled':
          out.push({ ...e, attributes: { ...a, details: await this.codecStored(a.details, false) } });
          break;
        case 'ActivityTaskFailed':
        case 'ActivityTaskTimedOut':
        case 'ChildWorkflowExecutionFailed':
          out.push({ ...e, attributes: { ...a, failure: await this.codecFailure(a.failure, false) } });
          break;
        case 'ChildWorkflowExecutionCompleted':
          out.push({ ...e, attributes: { ...a, result: await this.codecStored(a.result, false) } });
          break;
        case 'ChildWorkflowExecutionCanceled':
          out.push({ ...e, attributes: { ...a, details: await this.codecStored(a.details, false) } });
          break;
        case 'WorkflowExecutionUpdateAccepted': {
          const req = a.accepted_request ?? {};
          const input = { ...req.input, args: await this.codecInput(req.input?.args ?? null, false) };
          out.push({ ...e, attributes: { ...a, accepted_request: { ...req, input } } });
          break;
        }
        case 'MarkerRecorded':
          out.push(a.marker_name === LOCAL_ACTIVITY_MARKER ? { ...e, attributes: { ...a, details: await this.codecMarker(a.details, false) } } : e);
          break;
        default:
          out.push(e);
      }
    }
    return out;
  }

  /** A workflow task's commands with their payloads encoded by the codecs. */
  async encodeCommands(commands: Cmd[]): Promise<Cmd[]> {
    if (!this.codecs.length) return commands;
    const out: Cmd[] = [];
    for (const c of commands) {
      switch (c.type) {
        case 'schedule_activity':
        case 'signal_external_workflow':
          out.push({ ...c, input: await this.codecInput(c.input, true) });
          break;
        case 'continue_as_new':
        case 'start_child_workflow': {
          const coded: Cmd = { ...c, input: await this.codecInput(c.input, true) };
          if (c.memo !== undefined) coded.memo = await this.codecMemo(c.memo, true);
          out.push(coded);
          break;
        }
        case 'complete_workflow':
          out.push({ ...c, result: await this.codecStored(c.result, true) });
          break;
        case 'fail_workflow':
        case 'reject_update':
          out.push({ ...c, failure: await this.codecFailure(c.failure, true) });
          break;
        case 'complete_update':
          out.push(c.failure !== undefined
            ? { ...c, failure: await this.codecFailure(c.failure, true) }
            : { ...c, result: await this.codecStored(c.result, true) });
          break;
        case 'record_marker':
          out.push(c.marker_name === LOCAL_ACTIVITY_MARKER ? { ...c, details: await this.codecMarker(c.details, true) } : c);
          break;
        default:
          out.push(c);
      }
    }
    return out;
  }

  /** A workflow task's update messages with their args decoded by the codecs (the sandbox converts them). */
  async decodeMessages<M extends { args: unknown }>(messages: M[]): Promise<M[]> {
    if (!this.codecs.length) return messages;
    const out: M[] = [];
    for (const m of messages) out.push({ ...m, args: await this.codecInput(m.args, false) });
    return out;
  }

  /** Query arguments (a stored input) decoded by the codecs; the sandbox converts them. */
  decodeQueryInput(input: unknown): Promise<unknown> {
    return this.codecInput(input, false);
  }

  /** A query's answer from the sandbox (Payload JSON in payload mode) encoded by the codecs. */
  encodeQueryResult(v: unknown): Promise<unknown> {
    return this.codecStored(v, true);
  }

  /* ---------------------------------------------------------- values */

  /** A value as stored. */
  async toStored(v: unknown): Promise<unknown> {
    if (!this.payloadMode) return v === undefined ? null : v;
    const [p] = await this.encodePayloads([this.payloadConverter.toPayload(v)]);
    return payloadToJSON(p);
  }

  /** A stored value as a value (plain JSON, e.g. written from psql, is taken as it is). */
  async fromStored(v: unknown): Promise<unknown> {
    if (!this.payloadMode || !isPayloadJSON(v)) return v;
    const [p] = await this.decodePayloads([payloadFromJSON(v)]);
    return this.payloadConverter.fromPayload(p);
  }

  /** Arguments (and headers) as a stored input. */
  async argsToInput(args: unknown[], headers?: Record<string, PayloadJSON>): Promise<unknown> {
    let stored: unknown[] = args;
    if (this.payloadMode) {
      const ps = await this.encodePayloads(args.map((v) => this.payloadConverter.toPayload(v)));
      stored = ps.map(payloadToJSON);
    }
    return wrapInput(stored, headers);
  }

  /** A stored input as arguments and headers. */
  async inputToArgs(input: unknown): Promise<{ args: unknown[]; headers: Record<string, PayloadJSON> }> {
    const { args, headers } = unwrapInput(input);
    if (!this.payloadMode) return { args, headers };
    const out: unknown[] = [];
    for (const v of args) out.push(await this.fromStored(v));
    return { args: out, headers };
  }
}
