import { assert, assertEquals } from "../../../helpers/assert.ts";
import { formatMessage, utf8Length } from "../../../../server/frontends/irc/message.ts";
import { motdMessages, welcomeBurst } from "../../../../server/frontends/irc/welcome.ts";

const base = {
  serverName: "tessenger",
  nick: "Hans",
  version: "tessenger/0.1.0",
  greeting: "Welcome to TESSENGER!",
  started: "01 Jun 2023 15:00:00",
};

Deno.test("welcomeBurst() sends 001 to 005 and 422 without a message of the day", () => {
  const lines = welcomeBurst({ ...base, isupport: ["CHANTYPES=#", "UTF8ONLY"] }).map((m) =>
    formatMessage(m).trimEnd()
  );
  assertEquals(lines, [
    ":tessenger 001 Hans :Welcome to TESSENGER!",
    ":tessenger 002 Hans :Your host is tessenger, running version tessenger/0.1.0",
    ":tessenger 003 Hans :This server was started 01 Jun 2023 15:00:00",
    ":tessenger 004 Hans tessenger tessenger/0.1.0 i :i",
    ":tessenger 005 Hans CHANTYPES=# UTF8ONLY :are supported by this server",
    ":tessenger 422 Hans :MOTD File is missing",
  ]);
});

Deno.test("welcomeBurst() puts at most 13 ISUPPORT tokens on a line", () => {
  const tokens = Array.from({ length: 20 }, (_, i) => `T${i}=${i}`);
  const isupport = welcomeBurst({ ...base, isupport: tokens }).filter((m) => m.command === "005");
  assertEquals(isupport.length, 2);
  assertEquals(isupport[0].params.length, 1 + 13 + 1);
  assertEquals(isupport.flatMap((m) => m.params.slice(1, -1)), tokens);
});

Deno.test("motdMessages() frames the message of the day and splits long lines", () => {
  const long = "word ".repeat(200);
  const lines = motdMessages("tessenger", "Hans", ["Hello", long]).map(formatMessage);
  assertEquals(lines[0], ":tessenger 375 Hans :- tessenger Message of the day - \r\n");
  assertEquals(lines[1], ":tessenger 372 Hans :- Hello\r\n");
  assertEquals(lines.at(-1), ":tessenger 376 Hans :End of /MOTD command.\r\n");
  assert(lines.length > 4);
  for (const l of lines) assert(utf8Length(l) <= 512);
  const rebuilt = lines.slice(2, -1).map((l) => l.slice(":tessenger 372 Hans :- ".length, -2));
  assertEquals(rebuilt.join(""), long);
});
