// /p2pvideo between real `tessenger client` processes behind real NATs (Linux network
// namespaces, nftables masquerade) with a real server on the lab's internet: which path
// each pairing takes, and that the file arrives byte for byte. Needs root and nft.

import { assertEquals } from "../helpers/assert.ts";
import { join } from "node:path";
import { MAIN_PATH } from "../../dev/main_process.ts";
import { writeCredentials } from "../helpers/test_server.ts";
import { describeFile } from "../../client/transfer_files.ts";
import { labUnavailable, NatLab, SERVER_IP } from "./_lab.ts";

const unavailable = await labUnavailable();
const PERMISSIONS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env", "--allow-sys"];
const PASSWORD = "natlab-pw";
const FILE_SIZE = 1536 * 1024 + 7;

/** `main.ts ARGS` in network namespace `ns`. */
function mainIn(lab: NatLab, ns: string, args: string[], options: Deno.CommandOptions) {
  const [cmd, ...prefix] = lab.exec(ns);
  return new Deno.Command(cmd, {
    args: [...prefix, Deno.execPath(), "run", ...PERMISSIONS, MAIN_PATH, ...args],
    ...options,
  });
}

/** A real `tessenger client --json` in a namespace, fed lines on stdin. */
class LabClient {
  readonly events: Array<Record<string, unknown>> = [];
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reading: Promise<void>;
  #waiters: Array<() => void> = [];
  stderr = "";

  constructor(lab: NatLab, ns: string, downloads: string) {
    const args = [
      "client",
      "--host",
      SERVER_IP,
      "--port",
      "5000",
      "--downloads",
      downloads,
      "--json",
    ];
    const child = mainIn(lab, ns, args, { stdin: "piped", stdout: "piped", stderr: "piped" })
      .spawn();
    this.#child = child;
    this.#stdin = child.stdin.getWriter();
    this.#reading = (async () => {
      const lines = child.stdout.pipeThrough(new TextDecoderStream());
      let rest = "";
      for await (const chunk of lines) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop()!;
        for (const line of parts) {
          if (line.trim() === "") continue;
          try {
            this.events.push(JSON.parse(line));
          } catch {
            this.events.push({ type: "unparsed", line });
          }
          for (const wake of this.#waiters.splice(0)) wake();
        }
      }
    })();
    (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.stderr += chunk;
      }
    })();
  }

  async type(...lines: string[]): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(lines.map((l) => `${l}\n`).join("")));
  }

  /** The first event that `match` accepts, waiting up to `ms`. */
  async waitFor(
    match: (e: Record<string, unknown>) => boolean,
    ms: number,
  ): Promise<Record<string, unknown>> {
    const deadline = performance.now() + ms;
    while (true) {
      const found = this.events.find(match);
      if (found !== undefined) return found;
      const left = deadline - performance.now();
      if (left <= 0) {
        throw new Error(
          `timed out; events: ${JSON.stringify(this.events)}; stderr: ${this.stderr}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Logs out (or is killed after 10 s) and waits for the process. */
  async stop(): Promise<void> {
    try {
      await this.type("/logout");
      await this.#stdin.close();
    } catch {
      // already gone
    }
    const killer = setTimeout(() => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
    }, 10_000);
    await this.#child.status;
    clearTimeout(killer);
    await this.#reading;
  }
}

/** Name, the path expected, then the sender and the receiver: namespace and user. */
type Scenario = [string, "direct" | "relay", [{ ns: string }, string], [{ ns: string }, string]];

Deno.test({
  name: `NAT lab: files cross real NATs direct when punching can work, via the relay when not${
    unavailable ? ` (skipped: ${unavailable})` : ""
  }`,
  ignore: unavailable !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "natlab_" });
    const lab = await NatLab.create();
    let server: Deno.ChildProcess | undefined;
    const clients: LabClient[] = [];
    try {
      const home = await lab.router("ha", "masquerade", ["a1", "a2"]);
      const office = await lab.router("hb", "masquerade", ["b1"]);
      const hard1 = await lab.router("hc", "fully-random", ["c1"]);
      const hard2 = await lab.router("hd", "fully-random", ["d1"]);
      const pub = await lab.publicHost("p1");
      const [a1, a2] = home.clients;
      const [b1] = office.clients;
      const [c1] = hard1.clients;
      const [d1] = hard2.clients;
      const users = ["alice", "amy", "bob", "carol", "dave", "pat"];
      const credentials = join(dir, "credentials.txt");
      await writeCredentials(
        credentials,
        Object.fromEntries(users.map((u) => [u, PASSWORD])),
        true,
      );
      server = mainIn(lab, lab.serverNs, [
        "server",
        "--host",
        SERVER_IP,
        "--port",
        "5000",
        "--data-dir",
        join(dir, "server"),
        "--credentials",
        credentials,
        "--log-level",
        "warning",
      ], { stdout: "null", stderr: "piped" }).spawn();
      await waitForPort(lab, a1.ns);

      const file = join(dir, "clip.mp4");
      const bytes = new Uint8Array(FILE_SIZE);
      for (let i = 0; i < bytes.length; i += 65536) {
        crypto.getRandomValues(bytes.subarray(i, Math.min(i + 65536, bytes.length)));
      }
      await Deno.writeFile(file, bytes);
      const { sha256 } = await describeFile(file);

      const scenarios: Scenario[] = [
        ["both behind ordinary NAT", "direct", [a1, "alice"], [b1, "bob"]],
        // Endpoint-dependent mapping on one side, address-and-port-dependent filtering on
        // the other: the symmetric side's port towards the peer cannot be learnt.
        ["one behind a symmetric NAT", "relay", [c1, "carol"], [b1, "bob"]],
        ["both behind symmetric NATs", "relay", [c1, "carol"], [d1, "dave"]],
        ["one side public, the other behind a symmetric NAT", "direct", [pub, "pat"], [d1, "dave"]],
        ["one side public, the other behind ordinary NAT", "direct", [a1, "alice"], [pub, "pat"]],
        // No hairpinning in the lab's routers: only the LAN (host) addresses connect.
        ["both behind the same NAT", "direct", [a1, "alice"], [a2, "amy"]],
      ];
      const failures: string[] = [];
      for (const [i, [name, expected, [from, fromUser], [to, toUser]]] of scenarios.entries()) {
        const downloads = await Deno.makeTempDir({ dir, prefix: `dl${i}_` });
        const receiver = new LabClient(lab, to.ns, downloads);
        const sender = new LabClient(lab, from.ns, dir);
        clients.push(receiver, sender);
        await receiver.type(toUser, PASSWORD);
        await receiver.waitFor((e) => e.type === "ready", 20_000);
        await sender.type(fromUser, PASSWORD);
        await sender.waitFor((e) => e.type === "ready", 20_000);
        await sender.type(`/p2pvideo ${toUser} ${file}`);
        const isTransfer = (e: Record<string, unknown>) => e.type === "transfer";
        const [sent, received] = await Promise.all([
          sender.waitFor(isTransfer, 30_000),
          receiver.waitFor(isTransfer, 30_000),
        ]);
        await Promise.all([sender.stop(), receiver.stop()]);
        const saved = join(downloads, `${fromUser}_clip.mp4`);
        const same = received.ok === true && (await describeFile(saved)).sha256 === sha256;
        const line = `${name}: sent ${JSON.stringify(sent)}, received ${JSON.stringify(received)}`;
        if (!same || sent.ok !== true) failures.push(`${line}: the file did not arrive intact`);
        else if (sent.via !== expected || received.via !== expected) {
          failures.push(`${line}: expected ${expected}`);
        }
        console.log(
          `natlab: ${name}: ${sent.via ?? "failed"} in ${Math.round(Number(sent.elapsedMs))} ms`,
        );
      }
      assertEquals(failures, []);
    } finally {
      await Promise.all(clients.map((c) => c.stop().catch(() => {})));
      if (server !== undefined) {
        try {
          server.kill("SIGTERM");
        } catch {
          // exited
        }
        const status = await server.status;
        const stderr = await new Response(server.stderr).text().catch(() => "");
        if (!status.success && status.signal !== "SIGTERM") console.error(stderr);
      }
      await lab.destroy();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Waits until the server accepts TCP connections, as seen from namespace `ns`. */
async function waitForPort(lab: NatLab, ns: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const [cmd, ...prefix] = lab.exec(ns);
    const probe = await new Deno.Command(cmd, {
      args: [...prefix, "bash", "-c", `exec 3<>/dev/tcp/${SERVER_IP}/5000`],
      stdout: "null",
      stderr: "null",
    }).output();
    if (probe.success) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the lab's server did not start listening");
}
