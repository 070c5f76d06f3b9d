/**
 * Why a connection to the server failed, in words a user can act on: the
 * TLS library's error names (`UnknownIssuer`, `CaUsedAsEndEntity`, ...) and a
 * plain client talking to a TLS server become sentences that say what to do.
 *
 * @module
 */

/** What the client tried. */
export interface ConnectAttempt {
  host: string;
  /** Whether the client spoke TLS. */
  tls: boolean;
}

/** The TLS library's certificate errors, by name, and what they mean. */
const CERTIFICATE_ERRORS: [RegExp, (host: string) => string][] = [
  [
    /CaUsedAsEndEntity/,
    () =>
      "the server presents a CA certificate (basicConstraints CA:TRUE) as its own; " +
      "it needs a certificate of its own, signed by that CA or self-signed with CA:FALSE.",
  ],
  [
    /UnknownIssuer/,
    () =>
      "the server's certificate is not signed by a CA this client trusts; " +
      "pass that CA (or the server's self-signed certificate) with --ca FILE.",
  ],
  [
    /NotValidForName/,
    (host) =>
      `the server's certificate is not valid for ${host}; connect by a name or address it lists.`,
  ],
  [/\bExpired\b/, () => "the server's certificate has expired."],
  [/NotValidYet/, () => "the server's certificate is not valid yet (check the clocks)."],
  [/Revoked/, () => "the server's certificate has been revoked."],
  [
    /BadSignature|InvalidSignatureForPublicKey/,
    () => "the server's certificate has a bad signature.",
  ],
];

/**
 * The reason to show after `Cannot connect to HOST:PORT: `.
 *
 * @example
 * ```ts
 * explainConnectError("invalid peer certificate: UnknownIssuer", { host: "::1", tls: true });
 * // "the server's certificate is not signed by a CA this client trusts; pass ..."
 * ```
 */
export function explainConnectError(message: string, attempt: ConnectAttempt): string {
  if (attempt.tls && /invalid peer certificate/i.test(message)) {
    for (const [pattern, explain] of CERTIFICATE_ERRORS) {
      if (pattern.test(message)) return explain(attempt.host);
    }
    const detail = message.replace(/^.*invalid peer certificate:\s*/i, "");
    return `the server's certificate was refused (${detail}).`;
  }
  if (!attempt.tls && /answered with TLS/.test(message)) {
    return "the server speaks TLS; connect with --tls (and --ca FILE if its certificate " +
      "is self-signed or from your own CA).";
  }
  if (!attempt.tls && /closed the connection/.test(message)) {
    return `${message} If the server uses TLS, connect with --tls.`;
  }
  return message;
}
