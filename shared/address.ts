/**
 * Network address helpers shared by the server and the client: one normal form for host
 * names, so that addresses compare equal however a socket reported them, and one notion
 * of a loopback address.
 *
 * ```ts
 * normalizeHost("::FFFF:127.0.0.1"); // "127.0.0.1"
 * normalizeHost("[::1]");            // "::1"
 * isLoopback("::ffff:127.0.0.2");    // true
 * addressKey({ hostname: "::ffff:10.0.0.1", port: 5000 }); // "10.0.0.1:5000"
 * ```
 *
 * @module
 */

/** A UDP or TCP endpoint: host (name or literal address) and port. */
export interface Address {
  hostname: string;
  port: number;
}

/**
 * The form addresses are compared in: lower case, without IPv6 brackets, and an
 * IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as a dual-stack socket reports IPv4
 * peers) as the IPv4 address it maps.
 */
export function normalizeHost(host: string): string {
  let h = host.toLowerCase();
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped ? mapped[1] : h;
}

/** Whether `host` is `localhost` or a loopback address (127.0.0.0/8, `::1`, mapped or not). */
export function isLoopback(host: string): boolean {
  const h = normalizeHost(host);
  return h === "localhost" || h === "::1" || h.startsWith("127.");
}

/** Whether `host` is an IPv6 address literal (after normalisation). */
export function isIPv6(host: string): boolean {
  return normalizeHost(host).includes(":");
}

/** `address` with its host normalised. */
export function normalizeAddress(address: Address): Address {
  return { hostname: normalizeHost(address.hostname), port: address.port };
}

/** A string that is equal for equal addresses: `host:port` (IPv6 as `[host]:port`). */
export function addressKey(address: Address): string {
  const host = normalizeHost(address.hostname);
  return host.includes(":") ? `[${host}]:${address.port}` : `${host}:${address.port}`;
}

/** Whether two addresses name the same host and port. */
export function sameAddress(a: Address, b: Address): boolean {
  return a.port === b.port && normalizeHost(a.hostname) === normalizeHost(b.hostname);
}
