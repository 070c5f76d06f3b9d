/**
 * The codec, the registration machine, the splitter and the welcome burst
 * against a real IRC client library (irc-framework) over a real socket. The
 * server here is a stand-in that knows two passwords and echoes messages; the
 * real front door's tests run the same client against `tessenger server`.
 */

import { assert, assertEquals } from "../../../helpers/assert.ts";
import { FrameworkClient } from "../../../helpers/irc_framework_client.ts";
import { RawIrcClient } from "../../../helpers/raw_irc_client.ts";
import {
  formatMessage,
  IrcLineDecoder,
  IrcLineError,
  type IrcMessage,
} from "../../../../server/frontends/irc/message.ts";
import * as N from "../../../../server/frontends/irc/numerics.ts";
import {
  Registration,
  type RegistrationStep,
} from "../../../../server/frontends/irc/registration.ts";
import { textMessages } from "../../../../server/frontends/irc/text.ts";
import { welcomeBurst } from "../../../../server/frontends/irc/welcome.ts";

const ACCOUNTS: Record<string, string> = { Hans: "falcon*solo", Yoda: "wise@!man" };
const SERVER = "tessenger";
const encoder = new TextEncoder();

/** Echo's reply time: a fixed instant, to check server-time end to end. */
const ECHO_TIME = "2023-06-01T15:00:01.000Z";

/** One stand-in connection: the registration machine, then echo. */
async function serve(conn: Deno.Conn): Promise<void> {
  const reg = new Registration({ serverName: SERVER, userHost: "tessenger" });
  const decoder = new IrcLineDecoder();
  let open = true;
  const write = async (msgs: IrcMessage[]) => {
    if (msgs.length === 0) return;
    const bytes = encoder.encode(msgs.map(formatMessage).join(""));
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
  };
  const numeric = (code: string, ...params: string[]): IrcMessage => ({
    source: SERVER,
    command: code,
    params: [reg.nick, ...params],
  });
  const apply = async (step: RegistrationStep): Promise<void> => {
    await write(step.replies);
    if (step.effect?.kind === "login") {
      const { user, password } = step.effect;
      const ok = ACCOUNTS[user] === password;
      await apply(reg.loginResult(
        ok
          ? { code: "ok", text: "Welcome to TESSENGER!" }
          : { code: "bad_password", text: "Invalid Password. Please try again" },
      ));
    } else if (step.effect?.kind === "welcome") {
      await write(welcomeBurst({
        serverName: SERVER,
        nick: step.effect.nick,
        version: "tessenger/test",
        greeting: "Welcome to TESSENGER!",
        started: "01 Jun 2023 15:00:00",
        isupport: ["CASEMAPPING=ascii", "CHANTYPES=#", "NETWORK=TESSENGER", "UTF8ONLY"],
        motd: ["Stand-in server"],
      }));
    }
    if (step.close) {
      await write([{ command: "ERROR", params: [`Closing link: ${step.close}`] }]);
      open = false;
    }
  };
  const session = async (m: IrcMessage) => {
    if (m.command === "PING") {
      await write([{ source: SERVER, command: "PONG", params: [SERVER, ...m.params] }]);
    } else if (m.command === "QUIT") await apply({ replies: [], close: "Quit" });
    else if (m.command === "PRIVMSG") {
      const [, text] = m.params;
      const tags = reg.has("server-time") ? { time: ECHO_TIME } : undefined;
      await write(textMessages({
        source: "Echo!Echo@tessenger",
        command: "PRIVMSG",
        target: reg.nick,
        text: text.repeat(text.startsWith("long") ? 40 : 1),
        tags,
      }));
    } else await write([numeric(N.ERR_UNKNOWNCOMMAND, m.command, "Unknown command")]);
  };
  const buf = new Uint8Array(4096);
  try {
    while (open) {
      const n = await conn.read(buf);
      if (n === null) break;
      for (const item of decoder.push(buf.subarray(0, n))) {
        if (!open) break;
        if (item instanceof IrcLineError) {
          await write([numeric(N.ERR_INPUTTOOLONG, item.message)]);
          continue;
        }
        const step = reg.handle(item);
        await (step ? apply(step) : session(item));
      }
    }
  } catch {
    // the client went away
  } finally {
    conn.close();
  }
}

async function withStandIn(fn: (port: number) => Promise<void>): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served: Promise<void>[] = [];
  const conns = new Set<Deno.Conn>();
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.add(conn);
        served.push(serve(conn).finally(() => conns.delete(conn)));
      }
    } catch {
      // closed
    }
  })();
  try {
    await fn((listener.addr as Deno.NetAddr).port);
  } finally {
    listener.close();
    await accepting;
    // A test that failed midway leaves its connection open: end it here.
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    await Promise.all(served);
  }
}

Deno.test("irc-framework registers with PASS and reads the welcome burst", async () => {
  await withStandIn(async (port) => {
    const c = await FrameworkClient.connect({ port, nick: "Hans", password: "falcon*solo" });
    const registered = c.events.find((e) => e.name === "registered")!.event;
    assertEquals(registered.nick, "Hans");
    assertEquals(c.client.network.name, "TESSENGER");
    assertEquals(c.client.network.options.CASEMAPPING, "ascii");
    assert(c.serverLines().some((l) => l.startsWith(":tessenger CAP * LS :sasl=PLAIN")));
    await c.quit();
  });
});

Deno.test("irc-framework logs in with SASL PLAIN", async () => {
  await withStandIn(async (port) => {
    const c = await FrameworkClient.connect({
      port,
      nick: "Yoda",
      sasl: { account: "Yoda", password: "wise@!man" },
    });
    assertEquals(c.events.find((e) => e.name === "loggedin")?.event.account, "Yoda");
    assert(c.serverLines().includes(":tessenger 903 Yoda :SASL authentication successful"));
    await c.quit();
  });
});

Deno.test("irc-framework is refused with 464 for a wrong PASS", async () => {
  await withStandIn(async (port) => {
    const c = await FrameworkClient.connect({
      port,
      nick: "Hans",
      password: "nope",
      expectFailure: true,
    });
    assert(!c.events.some((e) => e.name === "registered"));
    assert(c.serverLines().includes(":tessenger 464 Hans :Invalid Password. Please try again"));
  });
});

Deno.test("irc-framework gets 904 for a wrong SASL password, then 464 at CAP END", async () => {
  await withStandIn(async (port) => {
    const c = await FrameworkClient.connect({
      port,
      nick: "Hans",
      sasl: { account: "Hans", password: "nope" },
      expectFailure: true,
    });
    assert(c.events.some((e) => e.name === "sasl failed"));
    const lines = c.serverLines();
    assert(lines.includes(":tessenger 904 Hans :Invalid Password. Please try again"));
    assert(lines.some((l) => l.startsWith(":tessenger 464 Hans :Password required")));
  });
});

Deno.test("irc-framework receives a split long message with its server-time", async () => {
  await withStandIn(async (port) => {
    const c = await FrameworkClient.connect({ port, nick: "Hans", password: "falcon*solo" });
    const text = "long message with ünïcödé 😀 ".repeat(40);
    c.client.say("Echo", "long message with ünïcödé 😀 ");
    let got = "";
    while (got.length < text.length) {
      const e = await c.nextEvent("privmsg");
      assertEquals(e.nick, "Echo");
      assertEquals(e.time, Date.parse(ECHO_TIME));
      got += e.message;
    }
    assertEquals(got, text);
    for (const l of c.serverLines()) {
      const withoutTags = l.startsWith("@") ? l.slice(l.indexOf(" ") + 1) : l;
      assert(encoder.encode(withoutTags).length + 2 <= 512, l);
    }
    await c.quit();
  });
});

Deno.test("a raw client registers with CAP, SASL chunks and PASS ignored after SASL", async () => {
  await withStandIn(async (port) => {
    const c = await RawIrcClient.connect(port);
    await c.send("CAP LS 302", "NICK Hans", "USER hans 0 * :Hans", "CAP REQ :sasl server-time");
    await c.expectCommand("CAP", (p) => p[1] === "ACK");
    await c.send("AUTHENTICATE PLAIN");
    await c.expectCommand("AUTHENTICATE", (p) => p[0] === "+");
    await c.send(`AUTHENTICATE ${btoa("\0Hans\0falcon*solo")}`);
    await c.expectCommand(N.RPL_SASLSUCCESS);
    await c.send("CAP END");
    await c.expectCommand(N.RPL_WELCOME, (p) => p[0] === "Hans");
    await c.expectCommand(N.RPL_ENDOFMOTD);
    await c.send("PING :are you there");
    await c.expectCommand("PONG", (p) => p[1] === "are you there");
    await c.send("QUIT");
    await c.expectCommand("ERROR");
    await c.closed;
    assertEquals(c.refused, []);
  });
});
