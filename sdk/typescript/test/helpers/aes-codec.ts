/**
 * A PayloadCodec that encrypts each payload with AES-256-GCM (node:crypto),
 * after Temporal's encryption sample (temporalio/samples-typescript
 * encryption/src/encryption-codec.ts): the whole payload, metadata
 * included, becomes the ciphertext of a payload with encoding
 * "binary/encrypted" and the key's id.  Test code: its key is fixed.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Payload, PayloadCodec, payloadFromJSON, payloadToJSON } from '../../src/common/payload';

const ENCODING = 'binary/encrypted';
const te = new TextEncoder();
const td = new TextDecoder();

export class AesGcmCodec implements PayloadCodec {
  constructor(private readonly keyId: string, private readonly key: Buffer) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', this.key, iv);
      const plain = te.encode(JSON.stringify(payloadToJSON(p)));
      const data = Buffer.concat([iv, c.update(plain), c.final(), c.getAuthTag()]);
      return { metadata: { encoding: te.encode(ENCODING), 'encryption-key-id': te.encode(this.keyId) }, data: new Uint8Array(data) };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (td.decode(p.metadata?.encoding ?? new Uint8Array()) !== ENCODING) return p;
      const keyId = td.decode(p.metadata?.['encryption-key-id'] ?? new Uint8Array());
      if (keyId !== this.keyId) throw new Error(`unknown encryption key id "${keyId}"`);
      const b = Buffer.from(p.data!);
      const d = createDecipheriv('aes-256-gcm', this.key, b.subarray(0, 12));
      d.setAuthTag(b.subarray(b.length - 16));
      const plain = Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]);
      return payloadFromJSON(JSON.parse(td.decode(plain)));
    });
  }
}
