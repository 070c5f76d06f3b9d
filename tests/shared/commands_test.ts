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

Deno.test("/p2pvideo takes a file name with spaces plainly, quoted or escaped, and any Unicode", () => {
  const file = (line: string) => parseCommandLine(line).args;
  assertEquals(file("/p2pvideo Hans my file.txt"), ["Hans", "my file.txt"]);
  assertEquals(file('/p2pvideo Hans "my file.txt"'), ["Hans", "my file.txt"]);
  assertEquals(file("/p2pvideo Hans 'my file.txt'"), ["Hans", "my file.txt"]);
  assertEquals(file("/p2pvideo Hans my\\ file.txt"), ["Hans", "my file.txt"]);
  assertEquals(file('/p2pvideo Hans "dir/it\'s \\"here\\".mp4"'), ["Hans", 'dir/it\'s "here".mp4']);
  assertEquals(file("/p2pvideo Hans   clip.mp4  "), ["Hans", "clip.mp4"]);
  assertEquals(file("/p2pvideo Hans C:\\Users\\me\\clip.mp4"), ["Hans", "C:\\Users\\me\\clip.mp4"]);
  assertEquals(file("/p2pvideo Hans 日本語 ファイル.mp4"), ["Hans", "日本語 ファイル.mp4"]);
  assertEquals(file("/p2pvideo Hans '🎬 film.mkv'"), ["Hans", "🎬 film.mkv"]);
  // A quote left open, or two quoted words: taken as typed.
  assertEquals(file('/p2pvideo Hans "half'), ["Hans", '"half']);
  assertEquals(file("/p2pvideo Hans 'a' 'b'"), ["Hans", "'a' 'b'"]);
  assertEquals(file("/p2pvideo Hans"), ["Hans"]);
  assertEquals(usageOf(findCommand("p2pvideo")!), "/p2pvideo USER FILE");
});

Deno.test("/cancel, /accept and /decline take an optional id or file name", () => {
  assertEquals(parseCommandLine("/cancel"), { name: "cancel", args: [] });
  assertEquals(parseCommandLine("/cancel a1b2"), { name: "cancel", args: ["a1b2"] });
  assertEquals(parseCommandLine('/accept "my movie.mp4"'), {
    name: "accept",
    args: ["my movie.mp4"],
  });
  assertEquals(usageOf(findCommand("decline")!), "/decline [ID|FILE]");
});
