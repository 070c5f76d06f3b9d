import { assert, assertEquals } from "../helpers/assert.ts";
import { addressKey, isLoopback, normalizeHost, sameAddress } from "../../shared/address.ts";
import { addressBucket } from "../../server/limits.ts";

Deno.test("hosts are normalised: case, brackets and IPv4-mapped IPv6", () => {
  assertEquals(normalizeHost("::FFFF:192.0.2.1"), "192.0.2.1");
  assertEquals(normalizeHost("[::1]"), "::1");
  assertEquals(normalizeHost("2001:DB8::1"), "2001:db8::1");
  assertEquals(normalizeHost("::ffff:abcd"), "::ffff:abcd"); // not a mapped IPv4 address
  assertEquals(normalizeHost("10.0.0.1"), "10.0.0.1");
});

Deno.test("loopback is 127/8, ::1 and localhost, mapped or not", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"]) {
    assert(isLoopback(h), h);
  }
  for (const h of ["10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1", "128.0.0.1", "::"]) {
    assert(!isLoopback(h), h);
  }
});

Deno.test("addresses compare equal however a socket spelled them", () => {
  const a = { hostname: "::ffff:10.1.2.3", port: 4000 };
  const b = { hostname: "10.1.2.3", port: 4000 };
  assert(sameAddress(a, b));
  assertEquals(addressKey(a), "10.1.2.3:4000");
  assertEquals(addressKey({ hostname: "::1", port: 5 }), "[::1]:5");
  assert(!sameAddress(a, { ...b, port: 4001 }));
});

Deno.test("the rate-limit bucket of a mapped IPv4 address is the IPv4 address, in any case", () => {
  assertEquals(addressBucket("::FFFF:192.0.2.7"), "192.0.2.7");
});
