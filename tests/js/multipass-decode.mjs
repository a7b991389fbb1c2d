// An independent decoder of Shopify Multipass tokens, written from Shopify's
// documentation (shopify.dev/docs/api/multipass), not from the gateway's code. Used by
// tests/tests/multipass.rs. (The npm package `multipassify` only encodes.)
//
// The documentation: SHA-256 of the Multipass secret gives two keys, "the first 128
// bit are used as encryption key and the last 128 bit are used as signature key";
// the customer JSON is encrypted with AES (128-bit key, CBC, random IV, the IV
// prepended); HMAC-SHA256 under the signature key signs IV + ciphertext and is
// appended; the whole is URL-safe Base64 (RFC 4648).
//
// Reads {secret, token} as JSON on stdin; prints {ok: true, data, padded,
// created_at_unix} with the decrypted customer data (padded: the `=` padding is there;
// created_at read as a date), or {ok: false, reason}. The signature is checked before anything is
// decrypted, as Shopify must.
import { createDecipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';

const { secret, token } = JSON.parse(fs.readFileSync(0, 'utf8'));

function decode() {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(token)) return { ok: false, reason: 'not URL-safe base64' };
  const raw = Buffer.from(token.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (raw.length < 16 + 16 + 32 || (raw.length - 32) % 16 !== 0) return { ok: false, reason: 'length' };
  const keys = createHash('sha256').update(secret, 'utf8').digest();
  const encryptionKey = keys.subarray(0, 16);
  const signatureKey = keys.subarray(16, 32);
  const signed = raw.subarray(0, raw.length - 32);
  const signature = raw.subarray(raw.length - 32);
  const expected = createHmac('sha256', signatureKey).update(signed).digest();
  if (!timingSafeEqual(signature, expected)) return { ok: false, reason: 'signature' };
  const iv = signed.subarray(0, 16);
  const decipher = createDecipheriv('aes-128-cbc', encryptionKey, iv);
  let plain;
  try {
    plain = Buffer.concat([decipher.update(signed.subarray(16)), decipher.final()]);
  } catch (e) {
    return { ok: false, reason: `decrypt: ${e.message}` };
  }
  // `=` padding as Ruby's urlsafe_encode64 writes it (Shopify's example).
  const padding = token.length - token.replace(/=+$/, '').length;
  const data = JSON.parse(plain.toString('utf8'));
  const createdAt = Date.parse(data.created_at);
  return {
    ok: true,
    data,
    padded: padding === (3 - (raw.length % 3)) % 3,
    created_at_unix: Number.isNaN(createdAt) ? null : Math.floor(createdAt / 1000),
  };
}

console.log(JSON.stringify(decode()));
