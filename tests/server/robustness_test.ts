import { assert, assertEquals } from "../helpers/assert.ts";
import { MAX_BAD_FRAMES, MAX_FRAME_BYTES } from "../../shared/limits.ts";
import { groupOfThree, RawClient } from "../helpers/raw_client.ts";
import { startTestServer, TEST_USERS } from "../helpers/test_server.ts";

Deno.test("garbage and oversized frames get errors while other users keep chatting", async () => {
  const t = await startTestServer();
  try {
    const yoda = await RawClient.login(t.port, "Yoda", TEST_USERS.Yoda);
    const hans = await RawClient.login(t.port, "Hans", TEST_USERS.Hans);
    const bad = await RawClient.login(t.port, "Luke", TEST_USERS.Luke);

    await bad.write("this is not json\n");
    assertEquals((await bad.waitFor((f) => f.t === "error")).code, "bad_json");
    await bad.write(new Uint8Array([0xff, 0xfe, 0x0a]));
    await bad.waitFor((f) => f.t === "error" && f.code === "bad_utf8");
    await bad.write(JSON.stringify({ t: "req", id: 7, cmd: 5 }) + "\n");
    const badFrame = await bad.waitFor((f) => f.t === "error" && f.code === "bad_frame");
    assertEquals(badFrame.id, 7);
    await bad.write("x".repeat(MAX_FRAME_BYTES + 10) + "\n");
    await bad.waitFor((f) => f.t === "error" && f.code === "too_large");
    // The stream is still in sync: a good request after the junk works.
    assertEquals((await bad.request("activeuser")).ok, true);

    await yoda.expectOk("msgto", ["Hans", "still here"]);
    assertEquals((await hans.push("msg")).text, "still here");
    await yoda.close();
    await hans.close();
    await bad.close();
  } finally {
    await t.close();
  }
});

Deno.test("too many malformed frames end in a clean disconnect", async () => {
  const t = await startTestServer();
  try {
    const c = await RawClient.connect(t.port);
    for (let i = 0; i < MAX_BAD_FRAMES; i++) await c.write("{nope\n");
    await c.closed;
    const bye = c.frames.find((f) => f.t === "bye");
    assert(bye, "a bye frame before the close");
    assertEquals(c.frames.filter((f) => f.t === "error").length, MAX_BAD_FRAMES);
    await c.close();
  } finally {
    await t.close();
  }
});

Deno.test("a client that never reads does not hold up a group message, nor grow the server's queue", async () => {
  const t = await startTestServer();
  try {
    const [yoda, hans, luke] = await groupOfThree(t.port, TEST_USERS);
    luke.stopReading();
    // Big messages fill Luke's socket buffers, then the server's outbox high-water mark.
    const text = "x".repeat(3900);
    const sent = 1500;
    for (let i = 0; i < sent; i++) assert((await yoda.request("groupmsg", ["g", text])).ok);
    // Every message reached Hans, in order; Luke stays online (he may catch up later).
    await hans.waitFor(() => hans.pushes("groupmsg").length === sent, 10_000);
    const online = (await yoda.request("activeuser")).lines.map((l) => l.split(",")[0]);
    assert(online.includes("Luke"));
    await yoda.close();
    await hans.close();
    await luke.close();
  } finally {
    await t.close();
  }
});
