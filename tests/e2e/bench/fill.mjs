// Fills the real server with a site's log, as other tablets would have recorded
// it, for `log.mjs`: generator devices enrol with one-time codes, open their first
// lease's seed as a tablet does (ECDH P-256, HKDF-SHA-256, AES-GCM, through
// WebCrypto), have `crates/trial/examples/bench_log.rs` record their participants
// (every event one the server accepts, every allocation one it verifies), and push
// them. A tablet enrolled afterwards then pulls the whole log through real sync.
import { execFileSync, spawnSync } from "node:child_process";
import { webcrypto } from "node:crypto";

const { subtle } = webcrypto;
const DAY = 24 * 3600e3;
/** The server's batch limit (`trial::wire::MAX_PUSH_EVENTS`). */
const PUSH_BATCH = 500;
/** `trial::wire::SEAL_INFO`. */
const SEAL_INFO = new TextEncoder().encode("hp-ecmo lease seed v1");

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const unhex = (text) => new Uint8Array(Buffer.from(text, "hex"));

/** A UUID v7 of now, as the app makes them. */
function uuidV7() {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i += 1) bytes[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  bytes[6] = 0x70 | (bytes[6] & 0x0f);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const h = hex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The 16 bytes of a UUID written as text. */
const uuidBytes = (id) => unhex(id.replaceAll("-", ""));

async function api(server, method, path, token, body) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

/** Opens a seed the server sealed to `privateKey` (`trial::wire::SealedSeed`). */
async function openSeed(privateKey, lease) {
  const salt = uuidBytes(lease.lease_id);
  const ephemeral = await subtle.importKey("raw", unhex(lease.seed.ephemeral_public_key),
    { name: "ECDH", namedCurve: "P-256" }, true, []);
  const shared = await subtle.deriveBits({ name: "ECDH", public: ephemeral }, privateKey, 256);
  const hkdfKey = await subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
  const keyBytes = await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info: SEAL_INFO }, hkdfKey, 256);
  const aes = await subtle.importKey("raw", keyBytes, "AES-GCM", false, ["decrypt"]);
  const seed = await subtle.decrypt({ name: "AES-GCM", iv: unhex(lease.seed.nonce), additionalData: salt },
    aes, unhex(lease.seed.ciphertext));
  return hex(new Uint8Array(seed));
}

/** Dates the server's users back three months, so a log recorded over the past
 *  weeks names users who were active then (`trial::roster`). */
export function backdateUsers(server) {
  execFileSync("sqlite3", [server.database, `UPDATE users SET created_at_ms = ${Date.now() - 90 * DAY}`]);
}

/** Adds `participants` participants with `perParticipant` events each to the
 *  server's log, from as many new generator devices as their leases need.
 *  Returns how many events were pushed. */
export async function fillServer(server, generator, { participants, perParticipant }) {
  const devices = [];
  let slots = 0;
  let site;
  while (slots < participants) {
    const keys = await subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
    const answer = await api(server, "POST", "/api/enrol", null, {
      code: server.newEnrolmentCode(),
      device_id: uuidV7(),
      app_version: "bench",
      public_key: hex(new Uint8Array(await subtle.exportKey("raw", keys.publicKey))),
    });
    site = answer.site;
    devices.push({
      device_id: answer.device_id,
      label: answer.device_label,
      lease_id: answer.lease.lease_id,
      block_sizes: answer.lease.block_sizes,
      n_slots: answer.lease.n_slots,
      seed: await openSeed(keys.privateKey, answer.lease),
      token: answer.device_token,
    });
    slots += answer.lease.n_slots;
  }
  const { users } = await api(server, "GET", "/api/users", devices[0].token);
  const request = {
    now_ms: Date.now() - 60_000,
    user_id: users[0].id,
    site: site.code,
    offset_minutes: 480,
    participants,
    events_per_participant: perParticipant,
    devices,
  };
  const made = spawnSync(generator, [], { input: JSON.stringify(request), maxBuffer: 1 << 30, encoding: "utf8" });
  if (made.status !== 0) throw new Error(`the generator failed:\n${made.stderr}`);
  let pushed = 0;
  for (const chain of JSON.parse(made.stdout)) {
    const { token } = devices.find((device) => device.device_id === chain.device_id);
    for (let start = 0; start < chain.events.length; start += PUSH_BATCH) {
      const events = chain.events.slice(start, start + PUSH_BATCH);
      const answer = await api(server, "POST", "/api/push", token, { events });
      const last = events[events.length - 1].device_seq;
      if (answer.acked_seq !== last || answer.rejected.length > 0) {
        throw new Error(`the server refused part of the log: ${JSON.stringify(answer.rejected.slice(0, 3))}`);
      }
      pushed += events.length;
    }
  }
  return pushed;
}
