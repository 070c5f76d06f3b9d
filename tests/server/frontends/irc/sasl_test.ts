import { assert, assertEquals } from "../../../helpers/assert.ts";
import {
  parsePlain,
  SASL_CHUNK_BYTES,
  SASL_MAX_ENCODED_BYTES,
  saslChunks,
  SaslPayload,
} from "../../../../server/frontends/irc/sasl.ts";

const encoder = new TextEncoder();

function assemble(chunks: string[]) {
  const p = new SaslPayload();
  const results = chunks.map((c) => p.push(c));
  for (const r of results.slice(0, -1)) assertEquals(r.kind, "more");
  return results.at(-1)!;
}

Deno.test("a short PLAIN payload arrives in one chunk", () => {
  const payload = encoder.encode("\0Hans\0falcon*solo");
  const chunks = saslChunks(payload);
  assertEquals(chunks, [btoa("\0Hans\0falcon*solo")]);
  const r = assemble(chunks);
  assert(r.kind === "done");
  assertEquals(parsePlain(r.payload), { authzid: "", authcid: "Hans", password: "falcon*solo" });
});

Deno.test("a payload of exactly 400 base64 bytes ends with a + chunk", () => {
  // 300 bytes encode to exactly 400 base64 characters.
  const payload = encoder.encode("Hans\0Hans\0" + "p".repeat(290));
  const chunks = saslChunks(payload);
  assertEquals(chunks.length, 2);
  assertEquals(chunks[0].length, SASL_CHUNK_BYTES);
  assertEquals(chunks[1], "+");
  const r = assemble(chunks);
  assert(r.kind === "done");
  assertEquals(parsePlain(r.payload)?.password, "p".repeat(290));
});

Deno.test("a long payload arrives in several chunks with a UTF-8 password", () => {
  const password = "пароль😀".repeat(30);
  const chunks = saslChunks(encoder.encode(`\0Hans\0${password}`));
  assert(chunks.length >= 2);
  const r = assemble(chunks);
  assert(r.kind === "done");
  assertEquals(parsePlain(r.payload)?.password, password);
});

Deno.test("a chunk over 400 bytes or a payload over the limit is too long", () => {
  assertEquals(new SaslPayload().push("A".repeat(401)).kind, "too_long");
  const p = new SaslPayload();
  let last;
  for (let i = 0; i * SASL_CHUNK_BYTES <= SASL_MAX_ENCODED_BYTES; i++) {
    last = p.push("A".repeat(SASL_CHUNK_BYTES));
    if (last.kind !== "more") break;
  }
  assertEquals(last?.kind, "too_long");
});

Deno.test("invalid base64 is refused", () => {
  for (const bad of ["abc", "a=bc", "****", "AAAA=AAA"]) {
    assertEquals(new SaslPayload().push(bad).kind, "bad_base64", bad);
  }
});

Deno.test("parsePlain() refuses payloads that are not authzid NUL authcid NUL password", () => {
  for (const text of ["Hans", "Hans\0pw", "\0\0pw", "a\0b\0c\0d"]) {
    assertEquals(parsePlain(encoder.encode(text)), undefined, JSON.stringify(text));
  }
  assertEquals(parsePlain(new Uint8Array([0, 0x48, 0, 0xff])), undefined);
  assertEquals(parsePlain(encoder.encode("\0Hans\0")), {
    authzid: "",
    authcid: "Hans",
    password: "",
  });
});

Deno.test("an empty payload is sent as + and assembles to nothing", () => {
  assertEquals(saslChunks(new Uint8Array()), ["+"]);
  const r = new SaslPayload().push("+");
  assert(r.kind === "done");
  assertEquals(r.payload.length, 0);
});
