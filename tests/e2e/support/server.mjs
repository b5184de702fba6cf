// Starts the real HP-ECMO server on a free port with a throw-away database (SQLite,
// or PostgreSQL when the test command started a cluster), serving the release
// build, and stops or kills it (also to simulate the network going away).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const BIN = process.env.HP_ECMO_SERVER_BIN;
const DIST = process.env.HP_ECMO_DIST;

async function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** The PostgreSQL cluster `cargo xtask test` starts, if any: the journeys that say
 *  so run on it too. */
export const POSTGRES_URL = process.env.HP_ECMO_TEST_POSTGRES_URL;

/** Creates an empty database in the cluster at `url` and returns its URL. */
function freshPostgresDatabase(url) {
  const name = `hp_ecmo_e2e_${process.pid}_${Date.now()}`;
  execFileSync(process.env.HP_ECMO_PSQL || "psql", [url, "--quiet", "--command", `CREATE DATABASE ${name}`], { stdio: ["ignore", "pipe", "pipe"] });
  const fresh = new URL(url);
  fresh.pathname = `/${name}`;
  return fresh.toString();
}

export class TestServer {
  /** A server on a fresh database: a SQLite file by default, or a new database
   *  in the cluster at `postgresUrl`. */
  /** A server on a fresh database: a SQLite file by default, or a new database
   *  in the cluster at `postgresUrl`. With `selfSigned` (a host name), it serves
   *  HTTPS with its own local CA's certificate for that name, and `url` names it:
   *  the browser must resolve the name to 127.0.0.1 and trust the CA. */
  static async start({ postgresUrl, selfSigned } = {}) {
    if (!BIN || !DIST) throw new Error("HP_ECMO_SERVER_BIN and HP_ECMO_DIST must be set (cargo xtask test sets them)");
    const database = postgresUrl
      ? freshPostgresDatabase(postgresUrl)
      : join(mkdtempSync(join(tmpdir(), "hp-ecmo-e2e-")), "server.sqlite");
    const server = new TestServer(await freePort(), database, selfSigned);
    await server.resume();
    return server;
  }

  constructor(port, database, selfSigned) {
    this.port = port;
    this.database = database;
    this.selfSigned = selfSigned;
    this.url = selfSigned ? `https://${selfSigned}:${port}` : `http://127.0.0.1:${port}`;
    this.output = "";
  }

  /** Starts (or restarts) the server on the same port and database. */
  async resume() {
    const args = ["--database", this.database, "--dist", DIST, "--listen", `127.0.0.1:${this.port}`];
    if (this.selfSigned) args.push("--self-signed", this.selfSigned);
    this.process = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [this.process.stdout, this.process.stderr]) {
      stream.on("data", (chunk) => { this.output += chunk; });
    }
    for (let attempt = 0; attempt < 100; attempt += 1) {
      if (await this.#healthy()) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the server did not start:\n${this.output}`);
  }

  /** Whether the server answers its health check. Over HTTPS the probe does not
   *  check the certificate: the browser under test does, against the CA. */
  async #healthy() {
    if (!this.selfSigned) {
      try {
        return (await fetch(`${this.url}/api/health`)).ok;
      } catch {
        return false;
      }
    }
    return new Promise((resolve) => {
      const request = httpsGet(
        { host: "127.0.0.1", port: this.port, path: "/api/health", servername: this.selfSigned, rejectUnauthorized: false },
        (response) => { response.resume(); resolve(response.statusCode === 200); },
      );
      request.on("error", () => resolve(false));
    });
  }

  /** The file of the local CA a `selfSigned` server printed it made. */
  caCertificatePath() {
    return this.output.match(/Local certificate authority \([^)]*\): (\S+)/)?.[1];
  }

  /** The enrolment code the server printed. */
  enrolmentCode() {
    return this.output.match(/Enrolment code[^:]*:\s*(\S+)/)?.[1];
  }

  /** The first coordinator's one-time console link the server printed last
   *  (each start makes a new one, which replaces the earlier): the path, with
   *  the token after `#`. */
  consoleLink() {
    return [...this.output.matchAll(/(\/console\/setup#[0-9a-f]+)/g)].at(-1)?.[1];
  }

  /** The PIN of the first user the server created, as it printed it. */
  firstUserPin() {
    return this.output.match(/with PIN (\d+)/)?.[1];
  }

  /** A further one-time code, made as a coordinator makes it: with the admin
   *  command, while the server runs on the same database. */
  newEnrolmentCode() {
    const printed = execFileSync(BIN, ["--database", this.database, "enrolment-code"], {
      encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
    });
    const code = printed.match(/\b([A-Z2-9]{4}-?[A-Z2-9]{4})\b/)?.[1];
    if (!code) throw new Error(`no enrolment code in: ${printed}`);
    return code;
  }

  /** Adds a user as a coordinator does, with the admin command beside the
   *  running server. */
  addUser(name, pin, role = "research_nurse") {
    // The PIN goes in on standard input, never on the command line.
    execFileSync(BIN, ["--database", this.database, "add-user", "--name", name, "--role", role], {
      encoding: "utf8", input: `${pin}\n`, stdio: ["pipe", "pipe", "pipe"],
    });
  }

  /** Gives the user `name` the PIN `pin` as the server hashed PINs before new
   *  ones needed six digits (100,000 PBKDF2 rounds), which no command can set
   *  now: straight into the SQLite database, with Python's hashlib. */
  setLegacyPin(name, pin) {
    const script = `
import hashlib, os, sqlite3, sys
database, name, pin = sys.argv[1:]
salt = os.urandom(16)
digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, 100000)
with sqlite3.connect(database) as db:
    changed = db.execute("UPDATE users SET pin_salt = ?, pin_iterations = 100000, pin_hash = ? WHERE name = ?",
        (salt.hex(), digest.hex(), name)).rowcount
assert changed == 1, changed
`;
    execFileSync("python3", ["-c", script, this.database, name, pin], { stdio: ["ignore", "pipe", "pipe"] });
  }

  /** What the coordinator's `queries` task prints: data queries, allocation
   *  flags and PIN lockouts. */
  queries() {
    return execFileSync(BIN, ["--database", this.database, "queries"], {
      encoding: "utf8", stdio: ["ignore", "pipe", "pipe"],
    });
  }

  /** Stops the server, as when the ward's network goes away. */
  async stop() {
    await this.#end("SIGTERM");
  }

  /** Kills the server outright, mid-request if one is under way: no graceful
   *  shutdown, as when the machine loses power. */
  async kill() {
    await this.#end("SIGKILL");
  }

  async #end(signal) {
    if (!this.process || this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise((resolve) => this.process.once("exit", resolve));
    this.process.kill(signal);
    await exited;
  }
}
