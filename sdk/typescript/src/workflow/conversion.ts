/**
 * Values of workflow code <-> what the engine stores, inside the sandbox.
 * Without a data converter (`converter` undefined) values are stored as
 * plain JSON, as they always were; with one (the worker's dataConverter)
 * each value becomes the JSON form of its Payload (see common/payload.ts).
 * Codecs run outside the sandbox, in the worker.  Headers go into the
 * input's envelope.  Runs in workflow sandboxes.
 */
import {
  Headers, PayloadConverter, PayloadJSON, headersFromJSON, headersToJSON, valueFromStored, valueToStored, wrapInput,
} from '../common/payload';

/** JSON copy with undefined as null (how arguments were always stored). */
export function jsonClone(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x) => (x === undefined ? null : x)) ?? 'null');
}

/** An argument list (and headers) as a stored input. */
export function argsToStored(converter: PayloadConverter | undefined, args: unknown[], headers?: Headers): unknown {
  const stored = converter ? args.map((v) => valueToStored(converter, v)) : (jsonClone(args) as unknown[]);
  return wrapInput(stored, headers ? headersToJSON(headers) : undefined);
}

/** A single value (result, details) as stored. */
export function valueToStoredW(converter: PayloadConverter | undefined, v: unknown): unknown {
  if (converter) return valueToStored(converter, v);
  return v === undefined ? null : v;
}

export function argsFromStored(converter: PayloadConverter | undefined, args: unknown[]): unknown[] {
  return converter ? args.map((v) => valueFromStored(converter, v)) : args;
}

export function valueFromStoredW(converter: PayloadConverter | undefined, v: unknown): unknown {
  return converter ? valueFromStored(converter, v) : v;
}

export function headersOf(h: Record<string, PayloadJSON> | undefined): Headers {
  return headersFromJSON(h);
}
