/**
 * An emulated network path between two Linux network namespaces, for benchmarks that
 * compare protocols over the same link (our UDP transfer, a kernel TCP copy): hosts A
 * (10.9.1.2) and B (10.9.2.2), each on a veth to a router namespace whose forwarding goes
 * through two TUN devices and the packet-level emulator tun_link.ts (rate, drop-tail
 * queue, delay, random and burst loss, per direction). Needs root, `ip`, /dev/net/tun;
 * the namespaces carry a random prefix and `close()` removes them all.
 *
 * ```ts
 * const lab = await startPathLab({ forward: { mbps: 50, delayMs: 20, queueMs: 50, loss: 0.01 } });
 * try {
 *   console.log(await lab.run("a", ["ping", "-c", "1", lab.b])); // a command in host A
 * } finally {
 *   await lab.close();
 * }
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { LinkOptions } from "./link_model.ts";
import { namespacesUnavailable, run, which } from "./netns.ts";

const TUN_LINK = fileURLToPath(new URL("./tun_link.ts", import.meta.url));

/** What {@linkcode startPathLab} builds. */
export interface PathLabOptions {
  /** The link from A to B. */
  forward: LinkOptions;
  /** The link from B to A. Default: the same as `forward`. */
  reverse?: LinkOptions;
  /** Seeds the links' losses. Default 1. */
  seed?: number;
}

const IP = which("ip") ?? "ip";
const SYSCTL = which("sysctl") ?? "sysctl";

/** Why a path lab cannot be built here, or undefined when it can. */
export const pathLabUnavailable = namespacesUnavailable;

/** The labs not closed yet, for {@linkcode closePathLabs}. */
const open = new Set<PathLab>();

/** Closes every lab still open (e.g. on Ctrl-C, before exiting). */
export async function closePathLabs(): Promise<void> {
  await Promise.all([...open].map((lab) => lab.close()));
}

/** A running path lab. */
export interface PathLab {
  /** Host A's and B's addresses. */
  readonly a: string;
  readonly b: string;
  /** The namespace of host "a" or "b" (for `ip netns exec`). */
  namespace(host: "a" | "b"): string;
  /** Runs a command in a host's namespace to its end; returns its stdout. */
  run(host: "a" | "b", cmd: string[]): Promise<string>;
  /** Starts a command in a host's namespace (stdin, stdout piped). */
  spawn(host: "a" | "b", cmd: string[], env?: Record<string, string>): Deno.ChildProcess;
  /** Sets a sysctl in a host's namespace (e.g. net.ipv4.tcp_congestion_control). */
  sysctl(host: "a" | "b", key: string, value: string): Promise<void>;
  /** Stops the emulator (returning each direction's counters) and removes the namespaces. */
  close(): Promise<unknown>;
}

/** Builds the namespaces, the veths and routes, and starts the emulator in the router. */
export async function startPathLab(options: PathLabOptions): Promise<PathLab> {
  const prefix = `tpl${crypto.getRandomValues(new Uint32Array(1))[0].toString(36).slice(0, 5)}`;
  const ns = { a: `${prefix}a`, r: `${prefix}r`, b: `${prefix}b` };
  const inNs = async (n: string, cmd: string[]) =>
    (await run([IP, "netns", "exec", n, ...cmd])).stdout;
  let emulator: Deno.ChildProcess | undefined;
  const removeAll = async () => {
    for (const n of Object.values(ns)) await run([IP, "netns", "del", n], false);
  };
  try {
    for (const n of Object.values(ns)) await run([IP, "netns", "add", n]);
    for (const [host, side, net] of [["a", "a", "1"], ["b", "b", "2"]] as const) {
      const here = ns[host];
      await run([
        IP,
        "link",
        "add",
        `${side}0`,
        "netns",
        here,
        "type",
        "veth",
        "peer",
        "name",
        `${side}1`,
        "netns",
        ns.r,
      ]);
      await inNs(here, [IP, "addr", "add", `10.9.${net}.2/24`, "dev", `${side}0`]);
      await inNs(here, [IP, "link", "set", `${side}0`, "up"]);
      await inNs(here, [IP, "link", "set", "lo", "up"]);
      await inNs(here, [IP, "route", "add", "default", "via", `10.9.${net}.1`]);
      await inNs(ns.r, [IP, "addr", "add", `10.9.${net}.1/24`, "dev", `${side}1`]);
      await inNs(ns.r, [IP, "link", "set", `${side}1`, "up"]);
    }
    // What comes in on a1 for B goes into t_ab, the emulator reads it there and writes it
    // into t_ba, whence the main table forwards it to b1; the other way round alike.
    for (const dev of ["t_ab", "t_ba"]) {
      await inNs(ns.r, [IP, "tuntap", "add", "dev", dev, "mode", "tun"]);
      await inNs(ns.r, [IP, "link", "set", dev, "up"]);
    }
    await inNs(ns.r, [IP, "route", "add", "10.9.2.0/24", "dev", "t_ab", "table", "100"]);
    await inNs(ns.r, [IP, "route", "add", "10.9.1.0/24", "dev", "t_ba", "table", "101"]);
    await inNs(ns.r, [IP, "rule", "add", "iif", "a1", "lookup", "100"]);
    await inNs(ns.r, [IP, "rule", "add", "iif", "b1", "lookup", "101"]);
    for (const key of ["net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0"]) {
      await inNs(ns.r, [SYSCTL, "-q", "-w", key]);
    }
    for (const dev of ["t_ab", "t_ba", "a1", "b1", "default"]) {
      await inNs(ns.r, [SYSCTL, "-q", "-w", `net.ipv4.conf.${dev}.rp_filter=0`]);
    }
    emulator = new Deno.Command(IP, {
      args: [
        "netns",
        "exec",
        ns.r,
        Deno.execPath(),
        "run",
        "--allow-ffi",
        "--allow-read",
        TUN_LINK,
        "t_ab",
        "t_ba",
        JSON.stringify({ forward: options.forward, reverse: options.reverse }),
        String(options.seed ?? 1),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = emulator.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const first = await reader.read();
    if (first.done || !first.value.includes("ready")) throw new Error("the emulator did not start");
    const started = emulator;
    let closing: Promise<unknown> | undefined;
    const lab: PathLab = {
      a: "10.9.1.2",
      b: "10.9.2.2",
      namespace: (host) => ns[host],
      run: (host, cmd) => inNs(ns[host], cmd),
      spawn: (host, cmd, env) =>
        new Deno.Command(IP, {
          args: ["netns", "exec", ns[host], ...cmd],
          stdin: "piped",
          stdout: "piped",
          stderr: "inherit",
          env,
        }).spawn(),
      sysctl: async (host, key, value) => {
        await inNs(ns[host], [SYSCTL, "-q", "-w", `${key}=${value}`]);
      },
      close: () =>
        closing ??= (async () => {
          open.delete(lab);
          await started.stdin.close().catch(() => {});
          let stats: unknown;
          try {
            let text = "";
            for (;;) {
              const { value, done } = await reader.read();
              if (done) break;
              text += value;
            }
            stats = JSON.parse(text.trim().split("\n").pop() ?? "null");
          } catch {
            stats = undefined;
          }
          await started.status;
          await removeAll();
          return stats;
        })(),
    };
    open.add(lab);
    return lab;
  } catch (e) {
    if (emulator !== undefined) {
      try {
        emulator.kill("SIGKILL");
      } catch {
        // ended
      }
      await emulator.status;
    }
    await removeAll();
    throw e;
  }
}
