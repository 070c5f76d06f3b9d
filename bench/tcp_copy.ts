/**
 * The TCP copy bench:transfer measures ours against, on loopback and across the path
 * lab: 1 MiB reads and writes, the receiver's file fsynced at the end (as our receiver's
 * is before it is renamed into place).
 *
 * ```ts
 * declare const conn: Deno.Conn;
 * console.log(await receiveToFile(conn, "/tmp/copy.bin"), "bytes");
 * ```
 *
 * @module
 */

/** Bytes per read and write. */
export const TCP_BUFFER = 1024 * 1024;

/**
 * Writes what arrives on `conn` until it closes to `path`, fsyncs; returns the bytes.
 * `progress.bytes` follows the bytes written so far.
 */
export async function receiveToFile(
  conn: Deno.Conn,
  path: string,
  progress = { bytes: 0 },
): Promise<number> {
  using out = await Deno.open(path, { write: true, create: true, truncate: true });
  const buffer = new Uint8Array(TCP_BUFFER);
  let bytes = 0;
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    for (let at = 0; at < n;) at += await out.write(buffer.subarray(at, n));
    bytes += n;
    progress.bytes = bytes;
  }
  await out.sync();
  conn.close();
  return bytes;
}

/** Sends the file at `path` over `conn`, then closes it. */
export async function sendFile(path: string, conn: Deno.Conn): Promise<void> {
  using file = await Deno.open(path, { read: true });
  const buffer = new Uint8Array(TCP_BUFFER);
  for (;;) {
    const n = await file.read(buffer);
    if (n === null) break;
    for (let at = 0; at < n;) at += await conn.write(buffer.subarray(at, n));
  }
  conn.close();
}
