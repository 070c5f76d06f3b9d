/**
 * The server's listening socket: plain TCP, or TLS when the operator gives a
 * certificate and key (`--tls-cert`, `--tls-key`).
 *
 * @module
 */

/** A certificate chain and its private key, both PEM text. */
export interface TlsServerOptions {
  cert: string;
  key: string;
}

/**
 * Reads a PEM certificate chain and private key from files.
 *
 * @throws {Error} `Cannot read TLS certificate: ...` naming the file and why.
 */
export async function readTlsFiles(certPath: string, keyPath: string): Promise<TlsServerOptions> {
  const read = async (path: string, what: string) => {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      throw new Error(
        `Cannot read TLS ${what} ${JSON.stringify(path)}: ${e instanceof Error ? e.message : e}`,
      );
    }
    if (!text.includes("-----BEGIN ")) {
      throw new Error(`Cannot read TLS ${what} ${JSON.stringify(path)}: not a PEM file`);
    }
    return text;
  };
  return { cert: await read(certPath, "certificate"), key: await read(keyPath, "private key") };
}

/**
 * Opens the listener: TLS when `tls` is given, plain TCP otherwise.
 *
 * @throws {Deno.errors.AddrInUse} and other listen errors; an error when the
 * certificate or key cannot be used.
 */
export function listenChat(hostname: string, port: number, tls?: TlsServerOptions): Deno.Listener {
  if (!tls) return Deno.listen({ hostname, port });
  try {
    return Deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse || e instanceof Deno.errors.PermissionDenied) throw e;
    throw new Error(
      `Cannot use the TLS certificate and key: ${e instanceof Error ? e.message : e}`,
    );
  }
}
