// An independent check of Ecwid SSO profiles, written from Ecwid's documentation
// ("Add SSO to the website", docs.ecwid.com, section "Sign the SSO payload"), not
// from the gateway's code. Used by tests/tests/ecwid.rs.
//
// The payload is "message signature timestamp", connected with spaces:
// - message: Base64 of a JSON object with appClientId, userId and profile (profile.email);
// - signature: hex HMAC of "message timestamp" under the app's client_secret
//   (SHA256 today; the test also asks for sha1 and sha512, which a site may configure);
// - timestamp: UNIX seconds, accepted "up to 10 minutes late";
// - "Every message should have different signature. If a message has a signature
//   that has already been seen recently, Ecwid denies the sign-on request."
//
// Reads {secret, algorithm, appClientId, now, values: [...]} as JSON on stdin and
// prints, for each value in order, {accepted, reason, profile} as a JSON array. The
// values are checked as one stream, the way Ecwid remembers recent signatures.
import { createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';

const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const { secret, algorithm, appClientId, now } = input;
const hexLength = { sha1: 40, sha256: 64, sha512: 128 }[algorithm];
if (!hexLength) throw new Error(`unknown algorithm ${algorithm}`);
const seen = new Set();

function check(value) {
  const parts = value.split(' ');
  if (parts.length !== 3) return { accepted: false, reason: 'not three parts' };
  const [message, signature, timestamp] = parts;
  if (!/^[0-9]+$/.test(timestamp)) return { accepted: false, reason: 'timestamp' };
  const ts = Number(timestamp);
  if (now - ts > 600 || ts - now > 60) return { accepted: false, reason: 'timestamp window' };
  if (signature.length !== hexLength || !/^[0-9a-f]+$/.test(signature)) {
    return { accepted: false, reason: 'signature format' };
  }
  const expected = createHmac(algorithm, secret).update(`${message} ${timestamp}`).digest();
  if (!timingSafeEqual(Buffer.from(signature, 'hex'), expected)) return { accepted: false, reason: 'signature' };
  if (seen.has(signature)) return { accepted: false, reason: 'replayed' };
  seen.add(signature);
  // Standard Base64 (with padding), strictly: Buffer.from is lenient, so re-encode.
  const bytes = Buffer.from(message, 'base64');
  if (bytes.toString('base64') !== message) return { accepted: false, reason: 'base64' };
  let profile;
  try {
    profile = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    return { accepted: false, reason: `json: ${e.message}` };
  }
  if (profile === null || typeof profile !== 'object') return { accepted: false, reason: 'not an object' };
  if (profile.appClientId !== appClientId) return { accepted: false, reason: 'appClientId' };
  if (typeof profile.userId !== 'string' || profile.userId === '') return { accepted: false, reason: 'userId' };
  if (typeof profile.profile !== 'object' || typeof profile.profile.email !== 'string') {
    return { accepted: false, reason: 'profile.email' };
  }
  return { accepted: true, reason: null, profile };
}

console.log(JSON.stringify(input.values.map(check)));
