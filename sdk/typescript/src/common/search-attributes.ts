/**
 * Typed search attributes, as Temporal's @temporalio/common
 * search-attributes.ts: keys made with defineSearchAttributeKey(name, type),
 * TypedSearchAttributes (get, getAll, updateCopy), pairs for starting and
 * upserting.
 *
 * The engine keeps a run's search attributes as one jsonb object (name ->
 * JSON value) and records no type: a DATETIME is stored as ISO 8601 text, a
 * KEYWORD_LIST as an array, the others as the JSON value.  Reading, get(key)
 * converts the stored value to the key's type (undefined when it does not
 * fit); getAll() infers each type from the JSON value (a string is a KEYWORD,
 * or a DATETIME when it is ISO 8601 date-time text).  Loaded in workflow
 * sandboxes too: no Node APIs.
 */

export const SearchAttributeType = {
  TEXT: 'TEXT',
  KEYWORD: 'KEYWORD',
  INT: 'INT',
  DOUBLE: 'DOUBLE',
  BOOL: 'BOOL',
  DATETIME: 'DATETIME',
  KEYWORD_LIST: 'KEYWORD_LIST',
} as const;
export type SearchAttributeType = (typeof SearchAttributeType)[keyof typeof SearchAttributeType];

export interface IndexedValueTypeMapping {
  TEXT: string;
  KEYWORD: string;
  INT: number;
  DOUBLE: number;
  BOOL: boolean;
  DATETIME: Date;
  KEYWORD_LIST: string[];
}

/** Temporal's untyped form (workflowInfo().searchAttributes): name -> the stored JSON value. */
export type SearchAttributes = Record<string, unknown>;

export interface SearchAttributeKey<T extends SearchAttributeType> {
  name: string;
  type: T;
}

export function defineSearchAttributeKey<T extends SearchAttributeType>(name: string, type: T): SearchAttributeKey<T> {
  if (!Object.values(SearchAttributeType).includes(type)) throw new TypeError(`unknown search attribute type "${type}"`);
  return { name, type };
}

export type SearchAttributePair = {
  [T in SearchAttributeType]: { key: SearchAttributeKey<T>; value: IndexedValueTypeMapping[T] };
}[SearchAttributeType];

/** A value of null removes the attribute. */
export type SearchAttributeUpdatePair = {
  [T in SearchAttributeType]: { key: SearchAttributeKey<T>; value: IndexedValueTypeMapping[T] | null };
}[SearchAttributeType];

const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** The stored JSON of a typed value. */
export function toStoredValue(type: SearchAttributeType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'DATETIME') return value instanceof Date || Object.prototype.toString.call(value) === '[object Date]' ? (value as Date).toISOString() : String(value);
  return value;
}

/** A stored JSON value as a value of `type`, or undefined when it does not fit. */
export function fromStoredValue(type: SearchAttributeType, v: unknown): unknown {
  if (Array.isArray(v) && type !== 'KEYWORD_LIST') v = v.length === 1 ? v[0] : undefined; // Temporal's legacy one-element lists
  switch (type) {
    case 'TEXT':
    case 'KEYWORD':
      return typeof v === 'string' ? v : undefined;
    case 'INT':
      return typeof v === 'number' && Number.isInteger(v) ? v : undefined;
    case 'DOUBLE':
      return typeof v === 'number' ? v : undefined;
    case 'BOOL':
      return typeof v === 'boolean' ? v : undefined;
    case 'DATETIME': {
      if (typeof v !== 'string') return undefined;
      const t = Date.parse(v);
      return Number.isNaN(t) ? undefined : new Date(t);
    }
    case 'KEYWORD_LIST':
      return Array.isArray(v) && v.every((x) => typeof x === 'string') ? [...v] : undefined;
  }
}

function inferType(v: unknown): SearchAttributeType | undefined {
  if (typeof v === 'boolean') return 'BOOL';
  if (typeof v === 'number') return Number.isInteger(v) ? 'INT' : 'DOUBLE';
  if (typeof v === 'string') return ISO_DATETIME.test(v) ? 'DATETIME' : 'KEYWORD';
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return 'KEYWORD_LIST';
  return undefined;
}

export class TypedSearchAttributes {
  private readonly stored: Record<string, unknown>;

  constructor(initial?: SearchAttributePair[]) {
    this.stored = {};
    for (const p of initial ?? []) this.stored[p.key.name] = toStoredValue(p.key.type, p.value);
  }

  /** @internal From the engine's jsonb object. */
  static fromStored(stored: Record<string, unknown> | null | undefined): TypedSearchAttributes {
    const t = new TypedSearchAttributes();
    for (const [k, v] of Object.entries(stored ?? {})) if (v !== null && v !== undefined) t.stored[k] = v;
    return t;
  }

  get<T extends SearchAttributeType>(key: SearchAttributeKey<T>): IndexedValueTypeMapping[T] | undefined {
    if (!Object.prototype.hasOwnProperty.call(this.stored, key.name)) return undefined;
    return fromStoredValue(key.type, this.stored[key.name]) as IndexedValueTypeMapping[T] | undefined;
  }

  getAll(): SearchAttributePair[] {
    const out: SearchAttributePair[] = [];
    for (const [name, v] of Object.entries(this.stored)) {
      const type = inferType(v);
      if (type) out.push({ key: { name, type }, value: fromStoredValue(type, v) } as SearchAttributePair);
    }
    return out;
  }

  updateCopy(updates: SearchAttributeUpdatePair[]): TypedSearchAttributes {
    const t = TypedSearchAttributes.fromStored(this.stored);
    for (const u of updates) {
      if (u.value === null) delete t.stored[u.key.name];
      else t.stored[u.key.name] = toStoredValue(u.key.type, u.value);
    }
    return t;
  }

  /** @internal The engine's jsonb object. */
  toStored(): Record<string, unknown> {
    return { ...this.stored };
  }
}

/** Typed pairs as the engine's jsonb object (null values remove, for upserts). */
export function pairsToStored(pairs: readonly { key: SearchAttributeKey<any>; value: unknown }[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of pairs) out[p.key.name] = toStoredValue(p.key.type, p.value);
  return out;
}
