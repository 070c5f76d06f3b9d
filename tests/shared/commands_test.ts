import { assertEquals } from "../helpers/assert.ts";
import { COMMANDS, findCommand, parseCommandLine, usageOf } from "../../shared/commands.ts";

Deno.test("parseCommandLine() keeps the spaces of the text after the fixed arguments", () => {
  assertEquals(parseCommandLine("/msgto Hans hello   there "), {
    name: "msgto",
    args: ["Hans", "hello   there "],
  });
  assertEquals(parseCommandLine("/groupmsg  g  hi  all"), {
    name: "groupmsg",
    args: ["g", " hi  all"],
  });
});

Deno.test("parseCommandLine() keeps the leading spaces of a text, and a text of spaces is missing", () => {
  assertEquals(parseCommandLine("/msgto Hans    indented"), {
    name: "msgto",
    args: ["Hans", "   indented"],
  });
  assertEquals(parseCommandLine("/r   indented"), { name: "r", args: ["  indented"] });
  assertEquals(parseCommandLine("/msgto Hans    "), { name: "msgto", args: ["Hans"] });
});

Deno.test("findCommand() finds a command by an alias", () => {
  assertEquals(findCommand("quit")?.name, "logout");
  assertEquals(findCommand("exit")?.name, "logout");
});

Deno.test("parseCommandLine() splits variadic and fixed commands on spaces", () => {
  assertEquals(parseCommandLine("/creategroup g  Hans Luke"), {
    name: "creategroup",
    args: ["g", "Hans", "Luke"],
  });
  assertEquals(parseCommandLine("/activeuser"), { name: "activeuser", args: [] });
  assertEquals(parseCommandLine("/msgto Hans"), { name: "msgto", args: ["Hans"] });
});

Deno.test("parseCommandLine() gives no name for text that is not a command", () => {
  assertEquals(parseCommandLine("hello"), { name: "", args: [] });
  assertEquals(parseCommandLine(""), { name: "", args: [] });
});

Deno.test("usageOf() writes each command's usage line", () => {
  assertEquals(usageOf(findCommand("msgto")!), "/msgto USER TEXT");
  assertEquals(usageOf(findCommand("creategroup")!), "/creategroup GROUP USER [USER ...]");
  assertEquals(usageOf(findCommand("p2pvideo")!), "/p2pvideo USER FILE");
  assertEquals(COMMANDS.every((c) => usageOf(c).startsWith(`/${c.name}`)), true);
});
