import { getLogger } from "@logtape/logtape";
import { assert, assertEquals, assertThrows } from "../../helpers/assert.ts";
import { ControlCodec, ControlType } from "../../../shared/transfer/control.ts";
import { openServerUdp, UdpService } from "../../../server/udp/service.ts";

const ID = "0123456789abcdef";
const SECRET = "ab".repeat(32);
const LOCAL = "127.0.0.1";

async function receive(conn: Deno.DatagramConn, ms = 2000): Promise<[Uint8Array, Deno.NetAddr]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no datagram")), ms);
  });
  try {
    const [d, a] = await Promise.race([conn.receive(), timeout]);
    return [d, a as Deno.NetAddr];
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("the UDP port answers a binding over a real socket and relays between the two bound peers", async () => {
  const udp = UdpService.open({ hostname: LOCAL, port: 0 });
  const alice = Deno.listenDatagram({ transport: "udp", hostname: LOCAL, port: 0 });
  const bob = Deno.listenDatagram({ transport: "udp", hostname: LOCAL, port: 0 });
  const server = { transport: "udp" as const, hostname: LOCAL, port: udp.port };
  const codec = new ControlCodec(ID, SECRET);
  try {
    assert(udp.register(ID, SECRET));
    const bind = (role: "sender" | "receiver") =>
      codec.seal({ type: ControlType.BindRequest, body: { role, seq: 1, candidates: [] } });
    await alice.send(bind("sender"), server);
    const [answer] = await receive(alice);
    const opened = codec.open(answer);
    assert(opened?.type === ControlType.BindResponse);
    assertEquals(opened.body.reflexive, {
      hostname: LOCAL,
      port: (alice.addr as Deno.NetAddr).port,
    });
    await bob.send(bind("receiver"), server);
    await receive(bob);
    const datagram = new Uint8Array(1200);
    datagram[0] = 0xa1;
    datagram.set(answer.subarray(2, 10), 2); // the transfer id
    datagram[500] = 42;
    await alice.send(datagram, server);
    const [relayed, from] = await receive(bob);
    assertEquals(relayed, datagram);
    assertEquals(from.port, udp.port);
    assertEquals(udp.stats.relayedPackets, 1);
  } finally {
    alice.close();
    bob.close();
    await udp.close();
  }
});

Deno.test("the UDP port takes the TCP port's number, another one when that is taken, and an explicit one or fails", async () => {
  const log = getLogger(["tessenger", "test", "udp"]);
  const taken = Deno.listenDatagram({ transport: "udp", hostname: LOCAL, port: 0 });
  const takenPort = (taken.addr as Deno.NetAddr).port;
  try {
    const fallback = openServerUdp({}, LOCAL, takenPort, log);
    assert(fallback.port !== takenPort && fallback.port > 0);
    await fallback.close();
    assertThrows(() => openServerUdp({ port: takenPort }, LOCAL, 5000, log), Deno.errors.AddrInUse);
  } finally {
    taken.close();
  }
  const free = openServerUdp({ port: 0 }, LOCAL, 5000, log);
  assert(free.port > 0);
  assertEquals(free.relay, true);
  await free.close();
});
