import { assert, assertEquals, assertThrows } from "../../../helpers/assert.ts";
import { formatMessage, parseMessage } from "../../../../server/frontends/irc/message.ts";
import {
  type LoginOutcome,
  Registration,
  type RegistrationStep,
} from "../../../../server/frontends/irc/registration.ts";
import { saslChunks } from "../../../../server/frontends/irc/sasl.ts";

const OK: LoginOutcome = { code: "ok", text: "Welcome to TESSENGER!" };
const BAD: LoginOutcome = { code: "bad_password", text: "Invalid Password. Please try again" };

/** A registration fed client lines as text; replies come back as formatted lines. */
class Client {
  readonly reg = new Registration({ serverName: "tessenger", userHost: "tessenger" });
  last: RegistrationStep | undefined;

  /** Sends lines; returns the replies (without CR LF) of all of them. */
  send(...lines: string[]): string[] {
    const out: string[] = [];
    for (const line of lines) {
      const step = this.reg.handle(parseMessage(line));
      this.last = step;
      if (step) out.push(...step.replies.map((m) => formatMessage(m).trimEnd()));
    }
    return out;
  }

  result(outcome: LoginOutcome): string[] {
    const step = this.reg.loginResult(outcome);
    this.last = step;
    return step.replies.map((m) => formatMessage(m).trimEnd());
  }

  sasl(user: string, password: string): string[] {
    const chunks = saslChunks(new TextEncoder().encode(`\0${user}\0${password}`));
    return this.send("AUTHENTICATE PLAIN", ...chunks.map((c) => `AUTHENTICATE ${c}`));
  }
}

Deno.test("PASS, NICK and USER ask for a login with the nick as the username", () => {
  const c = new Client();
  assertEquals(c.send("PASS falcon*solo", "NICK Hans", "USER hans 0 * :Hans Solo"), []);
  assertEquals(c.last?.effect, {
    kind: "login",
    user: "Hans",
    password: "falcon*solo",
    via: "pass",
  });
  assert(c.reg.pending);
  assertEquals(c.result(OK), []);
  assertEquals(c.last?.effect, { kind: "welcome", nick: "Hans" });
  assert(c.reg.registered);
});

Deno.test("USER before NICK registers as well", () => {
  const c = new Client();
  c.send("PASS pw", "USER hans 0 * :Hans", "NICK Hans");
  assertEquals(c.last?.effect?.kind, "login");
});

Deno.test("a wrong PASS gets 464 with the seed's wording and closes the connection", () => {
  const c = new Client();
  c.send("PASS nope", "NICK Hans", "USER hans 0 * :Hans");
  assertEquals(c.result(BAD), [":tessenger 464 Hans :Invalid Password. Please try again"]);
  assertEquals(c.last?.close, "Invalid Password. Please try again");
  assert(!c.reg.registered);
});

Deno.test("a lockout at PASS gets 464 with the block wording", () => {
  const c = new Client();
  c.send("PASS nope", "NICK Hans", "USER hans 0 * :Hans");
  const text = "Invalid Password. Your account has been blocked. Please try again later";
  assertEquals(c.result({ code: "now_blocked", text }), [`:tessenger 464 Hans :${text}`]);
  assertEquals(c.last?.close, text);
});

Deno.test("a second login gets 433 and a close", () => {
  const c = new Client();
  c.send("PASS pw", "NICK Hans", "USER hans 0 * :Hans");
  const text = "Hans is already logged in elsewhere. Log out there first.";
  assertEquals(c.result({ code: "already_online", text }), [`:tessenger 433 Hans Hans :${text}`]);
  assertEquals(c.last?.close, text);
});

Deno.test("a busy server closes without a password numeric", () => {
  const c = new Client();
  c.send("PASS pw", "NICK Hans", "USER hans 0 * :Hans");
  const text = "The server is busy with other logins. Please try again in a moment.";
  assertEquals(c.result({ code: "busy", text }), []);
  assertEquals(c.last?.close, text);
});

Deno.test("no PASS and no SASL gets 464 and a close, with no login tried", () => {
  const c = new Client();
  const out = c.send("NICK Hans", "USER hans 0 * :Hans");
  assertEquals(out.length, 1);
  assert(out[0].startsWith(":tessenger 464 Hans :Password required"));
  assert(c.last?.close);
  assertEquals(c.last?.effect, undefined);
});

Deno.test("CAP LS 302 lists the capabilities with values and holds registration until CAP END", () => {
  const c = new Client();
  assertEquals(c.send("CAP LS 302"), [
    ":tessenger CAP * LS :sasl=PLAIN server-time echo-message message-tags away-notify " +
    "cap-notify batch draft/chathistory",
  ]);
  assertEquals(c.send("PASS pw", "NICK Hans", "USER hans 0 * :Hans"), []);
  assertEquals(c.last?.effect, undefined);
  assertEquals(c.send("CAP REQ :server-time echo-message"), [
    ":tessenger CAP Hans ACK :server-time echo-message",
  ]);
  c.send("CAP END");
  assertEquals(c.last?.effect?.kind, "login");
  c.result(OK);
  assert(c.reg.has("server-time") && c.reg.has("echo-message") && c.reg.has("cap-notify"));
  assert(!c.reg.has("away-notify"));
});

Deno.test("CAP LS without a version lists names only and implies nothing", () => {
  const c = new Client();
  const [line] = c.send("CAP LS");
  assert(line.startsWith(":tessenger CAP * LS :sasl server-time "), line);
  assert(!c.reg.has("cap-notify"));
});

Deno.test("CAP REQ is all or nothing", () => {
  const c = new Client();
  assertEquals(c.send("CAP REQ :server-time multi-prefix"), [
    ":tessenger CAP * NAK :server-time multi-prefix",
  ]);
  assert(!c.reg.has("server-time"));
  assertEquals(c.send("CAP REQ :"), [":tessenger CAP * NAK :"]);
  assertEquals(c.send("CAP REQ :server-time"), [":tessenger CAP * ACK :server-time"]);
  assertEquals(c.send("CAP REQ :-server-time"), [":tessenger CAP * ACK :-server-time"]);
  assert(!c.reg.has("server-time"));
});

Deno.test("a 302 client cannot turn cap-notify off", () => {
  const c = new Client();
  c.send("CAP LS 302");
  assertEquals(c.send("CAP REQ -cap-notify"), [":tessenger CAP * NAK :-cap-notify"]);
  assert(c.reg.has("cap-notify"));
});

Deno.test("CAP LIST shows the enabled capabilities, and bad subcommands get 410 or 461", () => {
  const c = new Client();
  c.send("CAP REQ :message-tags away-notify");
  assertEquals(c.send("CAP LIST"), [":tessenger CAP * LIST :message-tags away-notify"]);
  assertEquals(c.send("CAP FOO"), [":tessenger 410 * FOO :Invalid CAP command"]);
  assertEquals(c.send("CAP"), [":tessenger 461 * CAP :Not enough parameters"]);
});

Deno.test("CAP after registration changes capabilities without re-registering", () => {
  const c = new Client();
  c.send("PASS pw", "NICK Hans", "USER hans 0 * :Hans");
  c.result(OK);
  assertEquals(c.send("CAP REQ away-notify"), [":tessenger CAP Hans ACK :away-notify"]);
  assertEquals(c.send("CAP END"), []);
  assertEquals(c.last?.effect, undefined);
  assert(c.reg.has("away-notify"));
});

Deno.test("SASL PLAIN logs in at AUTHENTICATE and registers at CAP END as the account", () => {
  const c = new Client();
  c.send("CAP LS 302", "NICK hans_", "USER hans 0 * :Hans", "CAP REQ :sasl");
  assertEquals(c.sasl("Hans", "falcon*solo"), ["AUTHENTICATE +"]);
  assertEquals(c.last?.effect, {
    kind: "login",
    user: "Hans",
    password: "falcon*solo",
    via: "sasl",
  });
  assertEquals(c.result(OK), [
    ":tessenger 900 Hans Hans!Hans@tessenger Hans :You are now logged in as Hans",
    ":tessenger 903 Hans :SASL authentication successful",
  ]);
  assertEquals(c.last?.effect, undefined);
  c.send("CAP END");
  assertEquals(c.last?.effect, { kind: "welcome", nick: "Hans" });
  assertEquals(c.reg.nick, "Hans");
});

Deno.test("SASL sent in chunks of 400 with a final + is assembled", () => {
  const c = new Client();
  c.send("CAP REQ sasl", "NICK Hans", "USER h 0 * :h");
  // 300 bytes of payload encode to exactly 400 base64 bytes.
  const password = "p".repeat(300 - "\0Hans\0".length);
  c.sasl("Hans", password);
  assertEquals(c.last?.effect, { kind: "login", user: "Hans", password, via: "sasl" });
});

Deno.test("a wrong SASL password gets 904 with the seed's wording and may be tried again", () => {
  const c = new Client();
  c.send("CAP LS 302", "CAP REQ sasl", "NICK Hans", "USER h 0 * :h");
  c.sasl("Hans", "nope");
  assertEquals(c.result(BAD), [":tessenger 904 Hans :Invalid Password. Please try again"]);
  assertEquals(c.last?.close, undefined);
  c.sasl("Hans", "falcon*solo");
  assertEquals(c.last?.effect?.kind, "login");
  c.result(OK);
  c.send("CAP END");
  assertEquals(c.last?.effect, { kind: "welcome", nick: "Hans" });
});

Deno.test("a SASL lockout gets 904 and a close", () => {
  const c = new Client();
  c.send("CAP REQ sasl");
  c.sasl("Hans", "nope");
  const text = "Invalid Password. Your account has been blocked. Please try again later";
  assertEquals(c.result({ code: "now_blocked", text }), [`:tessenger 904 * :${text}`]);
  assertEquals(c.last?.close, text);
});

Deno.test("a client that gives up on SASL and has no PASS gets 464 at CAP END", () => {
  const c = new Client();
  c.send("CAP LS 302", "CAP REQ sasl", "NICK Hans", "USER h 0 * :h");
  c.sasl("Hans", "nope");
  c.result(BAD);
  const [line] = c.send("CAP END");
  assert(line.startsWith(":tessenger 464 Hans :Password required"));
  assert(c.last?.close);
});

Deno.test("AUTHENTICATE needs the sasl capability, a known mechanism and a well-formed payload", () => {
  const c = new Client();
  assertEquals(c.send("AUTHENTICATE PLAIN"), [
    ":tessenger 904 * :SASL authentication failed: request the sasl capability",
  ]);
  c.send("CAP REQ sasl");
  assertEquals(c.send("AUTHENTICATE SCRAM-SHA-256"), [
    ":tessenger 908 * PLAIN :are available SASL mechanisms",
    ":tessenger 904 * :SASL authentication failed",
  ]);
  c.send("AUTHENTICATE PLAIN");
  assertEquals(c.send("AUTHENTICATE !!!!"), [
    ":tessenger 904 * :SASL authentication failed: malformed PLAIN payload",
  ]);
  c.send("AUTHENTICATE PLAIN");
  assertEquals(c.send(`AUTHENTICATE ${btoa("Leia\0Hans\0pw")}`), [
    ":tessenger 904 * :SASL authentication failed: cannot act as another user",
  ]);
  c.send("AUTHENTICATE PLAIN");
  assertEquals(c.send(`AUTHENTICATE ${"A".repeat(401)}`), [
    ":tessenger 905 * :SASL message too long",
  ]);
  assertEquals(c.send("AUTHENTICATE"), [":tessenger 461 * AUTHENTICATE :Not enough parameters"]);
});

Deno.test("AUTHENTICATE * aborts, and a second SASL login after success gets 907", () => {
  const c = new Client();
  c.send("CAP REQ sasl", "AUTHENTICATE PLAIN");
  assertEquals(c.send("AUTHENTICATE *"), [":tessenger 906 * :SASL authentication aborted"]);
  c.sasl("Hans", "pw");
  c.result(OK);
  assertEquals(c.send("AUTHENTICATE PLAIN"), [
    ":tessenger 907 Hans :You have already authenticated using SASL",
  ]);
});

Deno.test("registration waits for a SASL exchange in progress", () => {
  const c = new Client();
  c.send("CAP REQ sasl", "CAP END", "NICK Hans", "AUTHENTICATE PLAIN", "USER h 0 * :h");
  assertEquals(c.last?.effect, undefined);
});

Deno.test("a SASL login that finds the user online gets 433 and a close", () => {
  const c = new Client();
  c.send("CAP REQ sasl", "NICK Hans");
  c.sasl("Hans", "pw");
  const text = "Hans is already logged in elsewhere. Log out there first.";
  assertEquals(c.result({ code: "already_online", text }), [`:tessenger 433 Hans Hans :${text}`]);
  assertEquals(c.last?.close, text);
});

Deno.test("NICK checks the name and is locked once logged in", () => {
  const c = new Client();
  assertEquals(c.send("NICK"), [":tessenger 431 * :No nickname given"]);
  assertEquals(c.send("NICK bad!nick"), [":tessenger 432 * bad!nick :Erroneous nickname"]);
  c.send("PASS pw", "NICK Hans", "USER h 0 * :h");
  c.result(OK);
  assertEquals(c.send("NICK Hans"), []);
  assertEquals(c.send("NICK Yoda"), [
    ":tessenger 902 Hans :Your nick is your username: it cannot be changed",
  ]);
});

Deno.test("USER needs four parameters, and PASS and USER cannot be sent again", () => {
  const c = new Client();
  assertEquals(c.send("USER h 0 *"), [":tessenger 461 * USER :Not enough parameters"]);
  assertEquals(c.send("PASS"), [":tessenger 461 * PASS :Not enough parameters"]);
  c.send("PASS pw", "NICK Hans", "USER h 0 * :h");
  c.result(OK);
  assertEquals(c.send("USER h 0 * :h"), [":tessenger 462 Hans :You may not reregister"]);
  assertEquals(c.send("PASS pw"), [":tessenger 462 Hans :You may not reregister"]);
});

Deno.test("other commands before registration get 451; PING, PONG and QUIT go to the session", () => {
  const c = new Client();
  assertEquals(c.send("PRIVMSG Yoda :hi"), [":tessenger 451 * :You have not registered"]);
  for (const line of ["PING x", "PONG x", "QUIT"]) {
    assertEquals(c.reg.handle(parseMessage(line)), undefined);
  }
  c.send("PASS pw", "NICK Hans", "USER h 0 * :h");
  c.result(OK);
  assertEquals(c.reg.handle(parseMessage("PRIVMSG Yoda :hi")), undefined);
});

Deno.test("the driver may not hand over a message while a login is pending", () => {
  const c = new Client();
  c.send("PASS pw", "NICK Hans", "USER h 0 * :h");
  assertThrows(() => c.send("PING x"), Error);
  c.result(OK);
  assertThrows(() => c.result(OK), Error);
});
