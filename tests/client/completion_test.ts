import { completeLine, type CompletionSource } from "../../client/completion.ts";
import { COMMANDS } from "../../shared/commands.ts";
import { assertEquals } from "../helpers/assert.ts";

const source: CompletionSource = {
  commands: COMMANDS,
  users: ["Hans", "Yoda", "Yonder", "Luke"],
  groups: ["Jedi", "Rebels", "Hanger"],
};

Deno.test("completeLine() completes a unique command with a trailing space", () => {
  assertEquals(completeLine("/msg", source), [["/msgto "], "/msg"]);
  assertEquals(completeLine("/hi", source), [["/history "], "/hi"]);
  assertEquals(completeLine("  /lo", source), [["/logout "], "/lo"]);
});

Deno.test("completeLine() lists every command that fits, sorted", () => {
  assertEquals(completeLine("/g", source), [["/groupmsg", "/groups"], "/g"]);
  assertEquals(completeLine("", source)[0].length, COMMANDS.length);
  assertEquals(completeLine("/", source)[0].length, COMMANDS.length);
  assertEquals(completeLine("/x", source), [[], "/x"]);
});

Deno.test("completeLine() completes usernames where a command takes USER", () => {
  assertEquals(completeLine("/msgto Yo", source), [["Yoda", "Yonder"], "Yo"]);
  assertEquals(completeLine("/msgto Lu", source), [["Luke "], "Lu"]);
  assertEquals(completeLine("/p2pvideo H", source), [["Hans "], "H"]);
  assertEquals(completeLine("/msgto ", source)[0], ["Hans", "Luke", "Yoda", "Yonder"]);
});

Deno.test("completeLine() completes group names where a command takes GROUP", () => {
  assertEquals(completeLine("/joingroup J", source), [["Jedi "], "J"]);
  assertEquals(completeLine("/groupmsg R", source), [["Rebels "], "R"]);
  assertEquals(completeLine("/leavegroup H", source), [["Hanger "], "H"]);
});

Deno.test("completeLine() offers users and groups for /history", () => {
  assertEquals(completeLine("/history Ha", source), [["Hanger", "Hans"], "Ha"]);
  assertEquals(completeLine("/history Hans ", source), [[], ""]);
});

Deno.test("completeLine() offers each user once for /creategroup members", () => {
  assertEquals(completeLine("/creategroup Jed", source), [[], "Jed"]);
  assertEquals(completeLine("/creategroup Sith Yo", source), [["Yoda", "Yonder"], "Yo"]);
  assertEquals(completeLine("/creategroup Sith Yoda Yo", source), [["Yonder "], "Yo"]);
  assertEquals(completeLine("/creategroup Sith Yoda Luke ", source)[0], ["Hans", "Yonder"]);
});

Deno.test("completeLine() leaves message text, files, counts and plain text alone", () => {
  assertEquals(completeLine("/msgto Hans Yo", source), [[], "Yo"]);
  assertEquals(completeLine("/groupmsg Jedi Ha", source), [[], "Ha"]);
  assertEquals(completeLine("/p2pvideo Hans Ha", source), [[], "Ha"]);
  assertEquals(completeLine("/activeuser Ha", source), [[], "Ha"]);
  assertEquals(completeLine("hello Yo", source), [[], "hello Yo"]);
  assertEquals(completeLine("/unknown Yo", source), [[], "Yo"]);
});

Deno.test("completeLine() matches case-sensitively, as names are", () => {
  assertEquals(completeLine("/msgto yo", source), [[], "yo"]);
  assertEquals(completeLine("/MSG", source), [[], "/MSG"]);
});
