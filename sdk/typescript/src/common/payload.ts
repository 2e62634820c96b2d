/**
 * Payloads, as Temporal's TypeScript SDK has them (@temporalio/common
 * converter/): a Payload is metadata (its "encoding" first) and data bytes;
 * a PayloadConverter turns a value into a Payload and back; a PayloadCodec
 * transforms Payloads as bytes (compression, encryption), async and outside
 * workflow code.  Also the header envelope that carries a start's, a
 * signal's, a query's or an activity's headers.
 *
 * How payloads are stored.  The engine keeps inputs and results as jsonb.
 * Without a data converter (the default) values are stored as plain JSON, as
 * before: an argument list is a JSON array.  With one (Worker and Client
 * option `dataConverter`), every value is stored as the JSON form of its
 * Payload, Temporal's JSON form of the proto: {"metadata": {"encoding":
 * base64}, "data": base64}; an argument list is an array of those.  Reading
 * either way accepts both (a workflow started from psql with plain JSON input
 * still runs).
 *
 * Headers.  The engine has no header field, so headers travel in the input
 * itself (reserved shape, see docs/protocol.md "Headers"): when a call has
 * headers its input is {"__durable_headers": {name: payload JSON}, "args":
 * [...]} instead of the argument array.  Header payloads are not run through
 * codecs.
 *
 * Loaded both in the worker's realm and inside workflow sandboxes: no Node
 * APIs (TextEncoder/TextDecoder are globals in both).
 */

/** Temporal's Payload. */
export interface Payload {
  metadata?: Record<string, Uint8Array> | null;
  data?: Uint8Array | null;
}

/** A Payload as stored in jsonb (bytes as base64). */
export interface PayloadJSON {
  metadata: Record<string, string>;
  data?: string;
}

/** Header fields (Temporal: `Record<string, Payload>`). */
export type Headers = Record<string, Payload>;

export interface PayloadConverter {
  /** The value as a Payload; throws ValueError when it cannot be converted. */
  toPayload<T>(value: T): Payload;
  fromPayload<T>(payload: Payload): T;
}

/** One converter of a CompositePayloadConverter: undefined when it does not handle the value. */
export interface PayloadConverterWithEncoding {
  readonly encodingType: string;
  toPayload<T>(value: T): Payload | undefined;
  fromPayload<T>(payload: Payload): T;
}

export interface PayloadCodec {
  encode(payloads: Payload[]): Promise<Payload[]>;
  decode(payloads: Payload[]): Promise<Payload[]>;
}

/** Temporal's DataConverter option (Worker and Client). */
export interface DataConverter {
  /** Path of a module exporting `payloadConverter` (loaded in the worker, the client and workflow sandboxes). */
  payloadConverterPath?: string;
  payloadCodecs?: PayloadCodec[];
}

export class ValueError extends Error {
  override get name(): string {
    return 'ValueError';
  }
}

export class PayloadConverterError extends ValueError {
  override get name(): string {
    return 'PayloadConverterError';
  }
}

export const METADATA_ENCODING_KEY = 'encoding';
export const encodingTypes = {
  METADATA_ENCODING_NULL: 'binary/null',
  METADATA_ENCODING_RAW: 'binary/plain',
  METADATA_ENCODING_JSON: 'json/plain',
} as const;

/** UTF-8 bytes of a string. */
export function str(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** The string of UTF-8 bytes. */
export function u8s(b: Uint8Array | null | undefined): string {
  return b ? new TextDecoder().decode(b) : '';
}

function isBytes(v: unknown): v is Uint8Array {
  // Uint8Arrays of either realm (TextEncoder's are the worker's)
  return ArrayBuffer.isView(v) && Object.prototype.toString.call(v) === '[object Uint8Array]';
}

function encodingOf(p: Payload): string {
  return u8s(p.metadata?.[METADATA_ENCODING_KEY]);
}

export class UndefinedPayloadConverter implements PayloadConverterWithEncoding {
  readonly encodingType = encodingTypes.METADATA_ENCODING_NULL;
  toPayload<T>(value: T): Payload | undefined {
    if (value !== undefined) return undefined;
    return { metadata: { [METADATA_ENCODING_KEY]: str(this.encodingType) } };
  }
  fromPayload<T>(): T {
    return undefined as T;
  }
}

export class BinaryPayloadConverter implements PayloadConverterWithEncoding {
  readonly encodingType = encodingTypes.METADATA_ENCODING_RAW;
  toPayload<T>(value: T): Payload | undefined {
    if (!isBytes(value)) return undefined;
    return { metadata: { [METADATA_ENCODING_KEY]: str(this.encodingType) }, data: value };
  }
  fromPayload<T>(p: Payload): T {
    return (p.data ?? new Uint8Array(0)) as T;
  }
}

export class JsonPayloadConverter implements PayloadConverterWithEncoding {
  readonly encodingType = encodingTypes.METADATA_ENCODING_JSON;
  toPayload<T>(value: T): Payload | undefined {
    if (value === undefined) return undefined;
    let json: string;
    try {
      json = JSON.stringify(value);
    } catch {
      return undefined;
    }
    return { metadata: { [METADATA_ENCODING_KEY]: str(this.encodingType) }, data: str(json) };
  }
  fromPayload<T>(p: Payload): T {
    if (!p.data) throw new PayloadConverterError('json/plain payload without data');
    return JSON.parse(u8s(p.data)) as T;
  }
}

/** Tries its converters in order to write; reads with the one named by the payload's encoding. */
export class CompositePayloadConverter implements PayloadConverter {
  readonly converters: PayloadConverterWithEncoding[];
  private readonly byEncoding = new Map<string, PayloadConverterWithEncoding>();

  constructor(...converters: PayloadConverterWithEncoding[]) {
    if (converters.length === 0) throw new PayloadConverterError('CompositePayloadConverter needs at least one converter');
    this.converters = converters;
    for (const c of converters) this.byEncoding.set(c.encodingType, c);
  }

  toPayload<T>(value: T): Payload {
    for (const c of this.converters) {
      const p = c.toPayload(value);
      if (p !== undefined) return p;
    }
    throw new ValueError(`no payload converter can convert the value ${String(value)}`);
  }

  fromPayload<T>(payload: Payload): T {
    const enc = encodingOf(payload);
    const c = this.byEncoding.get(enc);
    if (!c) throw new ValueError(`no payload converter for encoding "${enc}"`);
    return c.fromPayload(payload);
  }
}

/** undefined, Uint8Array, then JSON (Temporal's default, without protobufs). */
export class DefaultPayloadConverter extends CompositePayloadConverter {
  constructor() {
    super(new UndefinedPayloadConverter(), new BinaryPayloadConverter(), new JsonPayloadConverter());
  }
}

export const defaultPayloadConverter: PayloadConverter = new DefaultPayloadConverter();

/* --------------------------------------------------------------- base64 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX: Record<string, number> = {};
for (let i = 0; i < B64.length; i++) B64_INDEX[B64[i]] = i;

export function toBase64(b: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i] << 16) | (b[i + 1] << 8) | b[i + 2];
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  if (i < b.length) {
    const n = (b[i] << 16) | ((i + 1 < b.length ? b[i + 1] : 0) << 8);
    out += B64[n >> 18] + B64[(n >> 12) & 63] + (i + 1 < b.length ? B64[(n >> 6) & 63] : '=') + '=';
  }
  return out;
}

export function fromBase64(s: string): Uint8Array {
  const clean = s.replace(/[^A-Za-z0-9+/]/g, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let o = 0;
  for (let i = 0; i < clean.length; i += 4) {
    const n = (B64_INDEX[clean[i]] << 18) | (B64_INDEX[clean[i + 1]] << 12) |
      ((B64_INDEX[clean[i + 2]] ?? 0) << 6) | (B64_INDEX[clean[i + 3]] ?? 0);
    out[o++] = n >> 16;
    if (i + 2 < clean.length) out[o++] = (n >> 8) & 255;
    if (i + 3 < clean.length) out[o++] = n & 255;
  }
  return out.subarray(0, o);
}

/* ------------------------------------------------- the stored JSON form */

export function payloadToJSON(p: Payload): PayloadJSON {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) metadata[k] = toBase64(v);
  const out: PayloadJSON = { metadata };
  if (p.data) out.data = toBase64(p.data);
  return out;
}

export function payloadFromJSON(j: PayloadJSON): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(j.metadata ?? {})) metadata[k] = fromBase64(v);
  return j.data === undefined ? { metadata } : { metadata, data: fromBase64(j.data) };
}

/** True for the stored form of a Payload: {"metadata": {string...}, "data"?: string} and nothing else. */
export function isPayloadJSON(v: unknown): v is PayloadJSON {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (!keys.includes('metadata') || keys.some((k) => k !== 'metadata' && k !== 'data')) return false;
  if (o.data !== undefined && typeof o.data !== 'string') return false;
  const m = o.metadata;
  if (!m || typeof m !== 'object' || Array.isArray(m)) return false;
  return Object.values(m).every((x) => typeof x === 'string') && typeof (m as any)[METADATA_ENCODING_KEY] === 'string';
}

/* ---------------------------------------------------- the header envelope */

export const HEADERS_KEY = '__durable_headers';

/** An input as stored: the argument list, or the envelope when there are headers. */
export function wrapInput(args: unknown[], headers: Record<string, PayloadJSON> | undefined): unknown {
  if (!headers || Object.keys(headers).length === 0) return args;
  return { [HEADERS_KEY]: headers, args };
}

/** A stored input (argument list, single value, or envelope) as arguments and headers. */
export function unwrapInput(input: unknown): { args: unknown[]; headers: Record<string, PayloadJSON> } {
  if (input && typeof input === 'object' && !Array.isArray(input) && HEADERS_KEY in (input as object)) {
    const o = input as Record<string, unknown>;
    const args = o.args;
    return { args: Array.isArray(args) ? args : args == null ? [] : [args], headers: (o[HEADERS_KEY] ?? {}) as Record<string, PayloadJSON> };
  }
  return { args: input === null || input === undefined ? [] : Array.isArray(input) ? input : [input], headers: {} };
}

export function headersToJSON(h: Headers | undefined): Record<string, PayloadJSON> {
  const out: Record<string, PayloadJSON> = {};
  for (const [k, v] of Object.entries(h ?? {})) out[k] = payloadToJSON(v);
  return out;
}

export function headersFromJSON(h: Record<string, PayloadJSON> | undefined): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(h ?? {})) out[k] = payloadFromJSON(v);
  return out;
}

/* ------------------------------------------------ values <-> stored form */

/** A value as stored, through a converter (payload mode). */
export function valueToStored(converter: PayloadConverter, v: unknown): PayloadJSON {
  return payloadToJSON(converter.toPayload(v));
}

/** A stored value as a value: Payload JSON through the converter, anything else as it is. */
export function valueFromStored(converter: PayloadConverter, v: unknown): unknown {
  return isPayloadJSON(v) ? converter.fromPayload(payloadFromJSON(v)) : v;
}

/* ------------------------------------------------------ failure details */

type FailureLike = { type?: string | null; details?: unknown; cause?: FailureLike | null };

/**
 * A failure (the engine's failure JSON) with the user values among its
 * details, and its causes', passed through fn: the details list of an
 * ApplicationFailure or CancelledFailure, a TimeoutFailure's last heartbeat
 * details.  An ActivityFailure's details (its activity type, id and retry
 * state) are the SDK's and stay as they are.
 */
export function mapFailureDetails<F extends FailureLike | null | undefined>(f: F, fn: (v: unknown) => unknown): F {
  if (!f || typeof f !== 'object') return f;
  const out: FailureLike = { ...f };
  if (f.details !== undefined && f.details !== null && f.type !== 'ActivityFailure') {
    out.details = Array.isArray(f.details) ? f.details.map(fn) : fn(f.details);
  }
  if (f.cause) out.cause = mapFailureDetails(f.cause, fn);
  return out as F;
}
