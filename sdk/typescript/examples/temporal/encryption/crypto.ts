import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const IV_LENGTH = 12;
const TAG_LENGTH = 16;

/** AES-256-GCM: iv | ciphertext | tag. */
export async function encrypt(data: Uint8Array, key: Buffer): Promise<Uint8Array> {
  const iv = randomBytes(IV_LENGTH);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  return Buffer.concat([iv, cipher.update(data), cipher.final(), cipher.getAuthTag()]);
}

export async function decrypt(encryptedData: Uint8Array, key: Buffer): Promise<Uint8Array> {
  const buf = Buffer.from(encryptedData);
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, IV_LENGTH));
  decipher.setAuthTag(buf.subarray(buf.length - TAG_LENGTH));
  return Buffer.concat([decipher.update(buf.subarray(IV_LENGTH, buf.length - TAG_LENGTH)), decipher.final()]);
}
