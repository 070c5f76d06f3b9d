/**
 * A NAT lab of Linux network namespaces: an "internet" (one bridge) with the chat server
 * and a public client on it, and home routers that masquerade their LANs with nftables —
 * `masquerade` (endpoint-independent mapping, address-and-port-dependent filtering: a
 * "port-restricted cone") or `masquerade fully-random` (a new port per destination:
 * "symmetric"). Every address lives inside the lab's own namespaces, whose names carry a
 * random prefix so that parallel runs do not meet; `destroy()` removes them all.
 *
 * Each router drops packets that arrive on its WAN side for no existing connection, as
 * home routers do: dropped in the input hook, such a packet never gets a conntrack entry,
 * so a peer's probe that arrives before our own first packet to that peer cannot make
 * SNAT pick another port for us (docs/transfer.md § NAT lab).
 *
 * @module
 */

import { namespacesUnavailable, run, which } from "../../dev/netns.ts";

/** The lab's internet: 203.0.113.0/24 (TEST-NET-3). */
export const SERVER_IP = "203.0.113.1";
const WAN_PREFIX = "203.0.113";

/** How a router maps its LAN to its WAN address. */
export type NatKind = "masquerade" | "fully-random";

const IP = which("ip") ?? "ip";
const NFT = which("nft") ?? "nft";
const SYSCTL = which("sysctl") ?? "sysctl";

/** Why the lab cannot run here, or undefined when it can. */
export async function labUnavailable(): Promise<string | undefined> {
  const why = await namespacesUnavailable();
  if (why !== undefined) return why;
  if (which("nft") === undefined) return "needs nft (apt-get install -y nftables)";
  return undefined;
}

/** The namespaces of one lab. */
export class NatLab {
  readonly prefix: string;
  readonly #namespaces: string[] = [];
  #wanHosts = 1;

  private constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** Builds the internet and the server's namespace. */
  static async create(): Promise<NatLab> {
    const tag = [...crypto.getRandomValues(new Uint8Array(2))]
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    const lab = new NatLab(`nl${tag}`);
    try {
      const inet = await lab.#namespace("inet");
      await lab.#ns(inet, IP, "link", "add", "br0", "type", "bridge");
      await lab.#ns(inet, IP, "link", "set", "br0", "up");
      await lab.#wanHost("srv", SERVER_IP);
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  /** The namespace the server runs in. */
  get serverNs(): string {
    return `${this.prefix}-srv`;
  }

  /** A client with a public address on the internet; returns its namespace. */
  async publicHost(name: string): Promise<{ ns: string; ip: string }> {
    const ip = `${WAN_PREFIX}.${50 + this.#wanHosts}`;
    return { ns: await this.#wanHost(name, ip), ip };
  }

  /**
   * A home router `name` whose LAN 10.0.N.0/24 is masqueraded as `kind`, with one client
   * namespace per entry of `hosts`; returns the clients' namespaces and LAN addresses.
   */
  async router(
    name: string,
    kind: NatKind,
    hosts: string[],
  ): Promise<{ wanIp: string; clients: Array<{ ns: string; ip: string }> }> {
    const n = ++this.#wanHosts;
    const wanIp = `${WAN_PREFIX}.${10 + n}`;
    const router = await this.#wanHost(name, wanIp);
    await this.#ns(router, SYSCTL, "-qw", "net.ipv4.ip_forward=1");
    await this.#ns(router, IP, "link", "add", "lan", "type", "bridge");
    await this.#ns(router, IP, "addr", "add", `10.0.${n}.1/24`, "dev", "lan");
    await this.#ns(router, IP, "link", "set", "lan", "up");
    const rules = [
      "add table ip nat",
      "add chain ip nat post { type nat hook postrouting priority 100; }",
      `add rule ip nat post oifname "wan" masquerade${
        kind === "fully-random" ? " fully-random" : ""
      }`,
      "add table inet filter",
      "add chain inet filter input { type filter hook input priority 0; policy accept; }",
      'add rule inet filter input iifname "wan" ct state new drop',
    ];
    await this.#nft(router, rules);
    const clients = [];
    for (const [i, host] of hosts.entries()) {
      const ns = await this.#namespace(host);
      const ip = `10.0.${n}.${2 + i}`;
      await this.#cable(router, "lan", `p${n}x${i}`, ns, "eth0", `${ip}/24`);
      await this.#ns(ns, IP, "route", "add", "default", "via", `10.0.${n}.1`);
      clients.push({ ns, ip });
    }
    return { wanIp, clients };
  }

  /** The argv prefix that runs a command inside `ns`. */
  exec(ns: string): string[] {
    return [IP, "netns", "exec", ns];
  }

  /** Removes every namespace of the lab (their interfaces go with them). */
  async destroy(): Promise<void> {
    for (const ns of this.#namespaces.splice(0).reverse()) {
      await run([IP, "netns", "del", ns], false);
    }
  }

  async #namespace(name: string): Promise<string> {
    const ns = `${this.prefix}-${name}`;
    await run([IP, "netns", "add", ns]);
    this.#namespaces.push(ns);
    await this.#ns(ns, IP, "link", "set", "lo", "up");
    return ns;
  }

  /** A namespace with a "wan" interface on the internet's bridge at `ip`. */
  async #wanHost(name: string, ip: string): Promise<string> {
    const ns = await this.#namespace(name);
    await this.#cable(
      `${this.prefix}-inet`,
      "br0",
      `w-${name}`.slice(0, 15),
      ns,
      "wan",
      `${ip}/24`,
    );
    return ns;
  }

  /**
   * A veth pair from bridge `bridge` in namespace `hub` (its end named `port`) to
   * namespace `ns` (its end named `ifname`, with address `cidr`), both ends up.
   */
  async #cable(
    hub: string,
    bridge: string,
    port: string,
    ns: string,
    ifname: string,
    cidr: string,
  ): Promise<void> {
    await this.#ns(
      hub,
      IP,
      "link",
      "add",
      port,
      "type",
      "veth",
      "peer",
      "name",
      ifname,
      "netns",
      ns,
    );
    await this.#ns(hub, IP, "link", "set", port, "master", bridge);
    await this.#ns(hub, IP, "link", "set", port, "up");
    await this.#ns(ns, IP, "addr", "add", cidr, "dev", ifname);
    await this.#ns(ns, IP, "link", "set", ifname, "up");
  }

  async #ns(ns: string, ...cmd: string[]): Promise<void> {
    await run([...this.exec(ns), ...cmd]);
  }

  async #nft(ns: string, rules: string[]): Promise<void> {
    const file = await Deno.makeTempFile({ prefix: "natlab-", suffix: ".nft" });
    try {
      await Deno.writeTextFile(file, rules.join("\n") + "\n");
      await this.#ns(ns, NFT, "-f", file);
    } finally {
      await Deno.remove(file);
    }
  }
}
