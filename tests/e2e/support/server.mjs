// Starts the real HP-ECMO server on a free port with a throw-away database (SQLite,
// or PostgreSQL when the test command started a cluster), serving the release
// build, and stops or kills it (also to simulate the network going away).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
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
  static async start({ postgresUrl } = {}) {
    if (!BIN || !DIST) throw new Error("HP_ECMO_SERVER_BIN and HP_ECMO_DIST must be set (cargo xtask test sets them)");
    const database = postgresUrl
      ? freshPostgresDatabase(postgresUrl)
      : join(mkdtempSync(join(tmpdir(), "hp-ecmo-e2e-")), "server.sqlite");
    const server = new TestServer(await freePort(), database);
    await server.resume();
    return server;
  }

  constructor(port, database) {
    this.port = port;
    this.database = database;
    this.url = `http://127.0.0.1:${port}`;
    this.output = "";
  }

  /** Starts (or restarts) the server on the same port and database. */
  async resume() {
    this.process = spawn(BIN, ["--database", this.database, "--dist", DIST, "--listen", `127.0.0.1:${this.port}`], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of [this.process.stdout, this.process.stderr]) {
      stream.on("data", (chunk) => { this.output += chunk; });
    }
    for (let attempt = 0; attempt < 100; attempt += 1) {
      try {
        const response = await fetch(`${this.url}/api/health`);
        if (response.ok) return;
      } catch { /* not up yet */ }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the server did not start:\n${this.output}`);
  }

  /** The enrolment code the server printed. */
  enrolmentCode() {
    return this.output.match(/Enrolment code[^:]*:\s*(\S+)/)?.[1];
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
    execFileSync(BIN, ["--database", this.database, "add-user", "--name", name, "--role", role, "--pin", pin], {
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
