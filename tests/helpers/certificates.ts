/**
 * Certificates for TLS tests, made by `openssl` (skip the test without it).
 *
 * @module
 */

import { canRun } from "./tools.ts";

/** Whether `openssl` can be run here. */
export function hasOpenssl(): boolean {
  return canRun("openssl", ["version"]);
}

/**
 * A self-signed certificate for 127.0.0.1 and localhost, valid for a day, in
 * `dir`. With `ca`, it is marked as a CA (basicConstraints CA:TRUE), which a
 * client refuses as a server's own certificate.
 */
export async function makeCertificate(
  dir: string,
  options: { ca?: boolean } = {},
): Promise<{ certPath: string; keyPath: string }> {
  const certPath = `${dir}/cert.pem`;
  const keyPath = `${dir}/key.pem`;
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "-addext",
      `basicConstraints=critical,CA:${options.ca ? "TRUE" : "FALSE"}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return { certPath, keyPath };
}
