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
import { SearchAttributePair, SearchAttributes, TypedSearchAttributes, pairsToStored } from '../common/search-attributes';

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

/**
 * A new run's search attributes (a continue-as-new's, a child's): the
 * untyped ones, with the typed ones over them where both name a key (as in
 * Temporal); unset values (null, undefined, an empty list) left out.
 */
export function searchAttributesToStored(untyped: SearchAttributes | undefined,
  typed: SearchAttributePair[] | TypedSearchAttributes | undefined): Record<string, unknown> {
  const t = !typed ? {} : typed instanceof TypedSearchAttributes ? typed.toStored() : pairsToStored(typed);
  const all: Record<string, unknown> = {};
  for (const [k, v] of Object.entries({ ...untyped, ...t })) {
    if (v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0)) all[k] = jsonClone(v);
  }
  return all;
}

/** A memo's values as stored (through the payload converter when there is one). */
export function memoToStored(converter: PayloadConverter | undefined, memo: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(memo).map(([k, v]) => [k, valueToStoredW(converter, v)]));
}
