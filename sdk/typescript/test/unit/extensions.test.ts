/**
 * Unit tests of the extension points' building blocks (issue 9, point 5).
 *
 * Temporal's sources followed (temporalio/sdk-typescript):
 *   - packages/common/src/interceptors.ts: composeInterceptors, the first
 *     interceptor of the list is the outermost;
 *   - packages/common/src/converter/payload-converter.ts and
 *     payload-converters.ts: the default converter writes undefined as
 *     binary/null, Uint8Array as binary/plain, the rest as json/plain;
 *   - https://docs.temporal.io/develop/typescript/converters-and-encryption:
 *     codecs encode in the order given and decode in reverse;
 *   - packages/common/src/search-attributes.ts: TypedSearchAttributes
 *     get/getAll/updateCopy, null removes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Payload, PayloadCodec, SearchAttributeType, TypedSearchAttributes, defaultPayloadConverter, defineSearchAttributeKey,
} from '../../src';
import { composeInterceptors } from '../../src/common/interceptors';
import {
  fromBase64, isPayloadJSON, payloadFromJSON, payloadToJSON, str, toBase64, u8s, unwrapInput, wrapInput,
} from '../../src/common/payload';
import { LoadedDataConverter } from '../../src/converter';

describe('composeInterceptors', () => {
  it('calls the first interceptor first (outermost) and ends in next', async () => {
    const calls: string[] = [];
    type I = { run?: (input: string, next: (input: string) => Promise<string>) => Promise<string> };
    const mk = (n: string): I => ({
      async run(input, next) {
        calls.push(`${n} in`);
        const r = await next(`${input}>${n}`);
        calls.push(`${n} out`);
        return r;
      },
    });
    const next = composeInterceptors<I, 'run'>([mk('a'), {}, mk('b')], 'run', async (input) => `done(${input})`);
    assert.equal(await next('x'), 'done(x>a>b)');
    assert.deepEqual(calls, ['a in', 'b in', 'b out', 'a out']);
  });
});

describe('payloads', () => {
  it('the default converter: undefined, bytes, JSON, round trip', () => {
    const enc = (p: Payload) => u8s(p.metadata!.encoding);
    assert.equal(enc(defaultPayloadConverter.toPayload(undefined)), 'binary/null');
    assert.equal(enc(defaultPayloadConverter.toPayload(new Uint8Array([1, 2]))), 'binary/plain');
    assert.equal(enc(defaultPayloadConverter.toPayload({ a: 1 })), 'json/plain');
    for (const v of [undefined, null, 0, 'é', { a: [1, { b: null }] }]) {
      assert.deepEqual(defaultPayloadConverter.fromPayload(defaultPayloadConverter.toPayload(v)), v);
    }
    assert.deepEqual([...defaultPayloadConverter.fromPayload<Uint8Array>(defaultPayloadConverter.toPayload(new Uint8Array([1, 2])))], [1, 2]);
  });

  it('base64 and the stored JSON form', () => {
    for (let n = 0; n < 40; n++) {
      const b = new Uint8Array(n).map((_, i) => (i * 37 + n) & 255);
      assert.equal(toBase64(b), Buffer.from(b).toString('base64'));
      assert.deepEqual([...fromBase64(toBase64(b))], [...b]);
    }
    const j = payloadToJSON({ metadata: { encoding: str('json/plain') }, data: str('{"a":1}') });
    assert.deepEqual(j, { metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('{"a":1}').toString('base64') });
    assert.ok(isPayloadJSON(j));
    assert.ok(!isPayloadJSON({ metadata: {} }));
    assert.ok(!isPayloadJSON({ metadata: { encoding: 'x' }, data: 'y', other: 1 }));
    assert.ok(!isPayloadJSON([1]));
    assert.deepEqual(defaultPayloadConverter.fromPayload(payloadFromJSON(j)), { a: 1 });
  });

  it('the header envelope is used only when there are headers', () => {
    assert.deepEqual(wrapInput([1, 2], {}), [1, 2]);
    const h = { t: payloadToJSON(defaultPayloadConverter.toPayload('v')) };
    const w = wrapInput([1, 2], h);
    assert.deepEqual(w, { __durable_headers: h, args: [1, 2] });
    assert.deepEqual(unwrapInput(w), { args: [1, 2], headers: h });
    assert.deepEqual(unwrapInput([3]), { args: [3], headers: {} });
    assert.deepEqual(unwrapInput({ x: 1 }), { args: [{ x: 1 }], headers: {} });
    assert.deepEqual(unwrapInput(null), { args: [], headers: {} });
  });

  it('codecs encode in order and decode in reverse; plain JSON from psql is read as it is', async () => {
    const log: string[] = [];
    const tagCodec = (name: string): PayloadCodec => ({
      async encode(ps) {
        log.push(`${name} encode`);
        return ps.map((p) => ({ metadata: { encoding: str(`${name}/${u8s(p.metadata!.encoding)}`) }, data: str(JSON.stringify(payloadToJSON(p))) }));
      },
      async decode(ps) {
        log.push(`${name} decode`);
        return ps.map((p) => payloadFromJSON(JSON.parse(u8s(p.data))));
      },
    });
    const dc = new LoadedDataConverter({ payloadCodecs: [tagCodec('a'), tagCodec('b')] });
    assert.equal(dc.payloadMode, true);
    const stored = await dc.toStored({ secret: 1 }) as any;
    assert.equal(Buffer.from(stored.metadata.encoding, 'base64').toString(), 'b/a/json/plain');
    assert.deepEqual(await dc.fromStored(stored), { secret: 1 });
    assert.deepEqual(log, ['a encode', 'b encode', 'b decode', 'a decode']);
    assert.deepEqual(await dc.fromStored({ plain: true }), { plain: true });
    const input = await dc.argsToInput(['x', 2]);
    assert.deepEqual((await dc.inputToArgs(input)).args, ['x', 2]);
    const none = new LoadedDataConverter();
    assert.equal(none.payloadMode, false);
    assert.deepEqual(await none.argsToInput(['x']), ['x']);
    assert.equal(await none.toStored(undefined), null);
  });
});

describe('typed search attributes', () => {
  const kw = defineSearchAttributeKey('kw', SearchAttributeType.KEYWORD);
  const n = defineSearchAttributeKey('n', SearchAttributeType.INT);
  const d = defineSearchAttributeKey('d', SearchAttributeType.DATETIME);
  const b = defineSearchAttributeKey('b', SearchAttributeType.BOOL);

  it('get converts to the key type, getAll infers types, updateCopy with null removes', () => {
    const t = new TypedSearchAttributes([{ key: kw, value: 'x' }, { key: n, value: 3 }, { key: d, value: new Date(0) }]);
    assert.equal(t.get(kw), 'x');
    assert.equal(t.get(n), 3);
    assert.equal(t.get(d)?.toISOString(), '1970-01-01T00:00:00.000Z');
    assert.equal(t.get(defineSearchAttributeKey('n', SearchAttributeType.KEYWORD)), undefined);
    assert.equal(t.get(b), undefined);
    assert.deepEqual(t.getAll().map((p) => `${p.key.name}:${p.key.type}`), ['kw:KEYWORD', 'n:INT', 'd:DATETIME']);
    const u = t.updateCopy([{ key: kw, value: null }, { key: b, value: true }]);
    assert.equal(u.get(kw), undefined);
    assert.equal(u.get(b), true);
    assert.equal(t.get(kw), 'x', 'updateCopy leaves the original alone');
    assert.throws(() => defineSearchAttributeKey('x', 'NOPE' as any), TypeError);
  });
});
