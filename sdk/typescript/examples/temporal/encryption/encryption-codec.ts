import { METADATA_ENCODING_KEY, Payload, PayloadCodec, ValueError } from '@temporalio/common';
import { decrypt, encrypt } from './crypto';

const ENCODING = 'binary/encrypted';
const METADATA_ENCRYPTION_KEY_ID = 'encryption-key-id';

const encode = (s: string) => new TextEncoder().encode(s);
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

/**
 * Serializes the whole payload (metadata included) and encrypts it.  The
 * sample serializes with @temporalio/proto's Payload.encodeDelimited, which
 * durable does not have: this port uses JSON with base64 bytes.
 */
function serialize(p: Payload): Uint8Array {
  const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
  const metadata = Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)]));
  return encode(JSON.stringify({ metadata, data: p.data ? b64(p.data) : null }));
}

function deserialize(bytes: Uint8Array): Payload {
  const j = JSON.parse(decode(bytes));
  const bytesOf = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
  return { metadata: Object.fromEntries(Object.entries(j.metadata as Record<string, string>).map(([k, v]) => [k, bytesOf(v)])), data: j.data === null ? null : bytesOf(j.data) };
}

export class EncryptionCodec implements PayloadCodec {
  constructor(protected readonly keys: Map<string, Buffer>, protected readonly defaultKeyId: string) {}

  static async create(keyId: string): Promise<EncryptionCodec> {
    const keys = new Map<string, Buffer>();
    keys.set(keyId, await fetchKey(keyId));
    return new this(keys, keyId);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map(async (payload) => ({
      metadata: {
        [METADATA_ENCODING_KEY]: encode(ENCODING),
        [METADATA_ENCRYPTION_KEY_ID]: encode(this.defaultKeyId),
      },
      data: await encrypt(serialize(payload), this.keys.get(this.defaultKeyId)!),
    })));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map(async (payload) => {
      if (!payload.metadata || decode(payload.metadata[METADATA_ENCODING_KEY]) !== ENCODING) return payload;
      if (!payload.data) throw new ValueError('Payload data is missing');
      const keyIdBytes = payload.metadata[METADATA_ENCRYPTION_KEY_ID];
      if (!keyIdBytes) throw new ValueError('Unable to decrypt Payload without encryption key id');
      const keyId = decode(keyIdBytes);
      let key = this.keys.get(keyId);
      if (!key) {
        key = await fetchKey(keyId);
        this.keys.set(keyId, key);
      }
      return deserialize(await decrypt(payload.data, key));
    }));
  }
}

async function fetchKey(_keyId: string): Promise<Buffer> {
  // in production: from a key management system
  return Buffer.from('test-key-test-key-test-key-test!');
}
