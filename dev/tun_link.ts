/**
 * A packet-level path emulator: forwards IP packets between two TUN devices through the
 * link model (link_model.ts) of each direction, so any protocol — our UDP transfer and a
 * kernel TCP copy alike — crosses the same emulated link (this kernel has no netem).
 * It is the router of {@link startPathLab} (path_lab.ts) and runs as its own process in
 * the router's namespace; it needs root and `--allow-ffi` (libc's open, ioctl, read,
 * write on /dev/net/tun).
 *
 *   deno run --allow-ffi --allow-read tun_link.ts AB_DEV BA_DEV LINK_JSON [SEED]
 *
 * Packets read from AB_DEV (one direction) are written to BA_DEV at the time they arrive
 * at the far end of the link, and the other way round; the kernel routes what comes out
 * of a device onward. The link is counted in whole IP packets (headers included). On
 * stdin closing (or SIGTERM) it exits, printing each direction's counters as JSON.
 *
 * @module
 */

import { LinkModel, type LinkOptions } from "./link_model.ts";
import { mulberry32 } from "../shared/random.ts";

const TUNSETIFF = 0x400454ca;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const O_RDWR = 2;
/** Bytes read per packet: above the veths' MTU of 1500 (TUN hands over whole packets). */
const MTU = 2048;

const libc = Deno.dlopen("libc.so.6", {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
});

/** Opens the TUN device `name` (it exists already, made with `ip tuntap add`). */
function attach(name: string): number {
  const fd = libc.symbols.open(new TextEncoder().encode("/dev/net/tun\0"), O_RDWR);
  if (fd < 0) throw new Error("Cannot open /dev/net/tun (root needed)");
  const ifr = new Uint8Array(40);
  ifr.set(new TextEncoder().encode(name));
  new DataView(ifr.buffer).setUint16(16, IFF_TUN | IFF_NO_PI, true);
  if (libc.symbols.ioctl(fd, BigInt(TUNSETIFF), ifr) < 0) {
    throw new Error(`Cannot attach to TUN device ${name}`);
  }
  return fd;
}

/** One direction: read from `from`, cross the link, write to `to` on arrival. */
class Direction {
  readonly #queue: Array<{ at: number; packet: Uint8Array }> = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  constructor(readonly from: number, readonly to: number, readonly link: LinkModel) {}

  async run(stopped: () => boolean): Promise<void> {
    while (!stopped()) {
      const buffer = new Uint8Array(MTU);
      const n = Number(await libc.symbols.read(this.from, buffer, BigInt(MTU)));
      if (n <= 0) continue;
      const at = this.link.transmit(performance.now(), n);
      if (at === undefined) continue;
      this.#queue.push({ at, packet: buffer.subarray(0, n) });
      if (this.#timer === undefined) this.#deliver();
    }
  }

  #deliver(): void {
    const now = performance.now();
    while (this.#head < this.#queue.length) {
      const next = this.#queue[this.#head];
      if (next.at > now) {
        this.#timer = setTimeout(() => this.#deliver(), next.at - now);
        return;
      }
      this.#head++;
      libc.symbols.write(this.to, next.packet, BigInt(next.packet.length));
      // A link that never drains would otherwise keep every packet it ever held.
      if (this.#head >= 4096) this.#queue.splice(0, this.#head), this.#head = 0;
    }
    this.#queue.length = this.#head = 0;
    this.#timer = undefined;
  }
}

if (import.meta.main) {
  const [ab, ba, linkJson, seed] = Deno.args;
  const link = JSON.parse(linkJson) as { forward: LinkOptions; reverse?: LinkOptions };
  const rng = mulberry32(Number(seed ?? 1));
  const abFd = attach(ab);
  const baFd = attach(ba);
  const forward = new Direction(abFd, baFd, new LinkModel(link.forward, rng));
  const reverse = new Direction(baFd, abFd, new LinkModel(link.reverse ?? link.forward, rng));
  let stop = false;
  const finish = () => {
    if (stop) return;
    stop = true;
    console.log(JSON.stringify({ forward: forward.link.stats, reverse: reverse.link.stats }));
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", finish);
  forward.run(() => stop);
  reverse.run(() => stop);
  console.log(JSON.stringify({ ready: true }));
  // Ends when the parent closes stdin.
  for await (const _ of Deno.stdin.readable) { /* nothing to read */ }
  finish();
}
