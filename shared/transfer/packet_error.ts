/**
 * The one error the datagram codec throws: the bytes are truncated, malformed or do not
 * authenticate. Callers drop such datagrams and count them; they never reach a user.
 */
export class PacketError extends Error {
  /** What was wrong: the bytes ran out or made no sense, or the tag did not verify. */
  readonly kind: "malformed" | "unauthentic";

  /** Creates the error; `message` reads `Cannot <action>: <state>`. */
  constructor(message: string, kind: "malformed" | "unauthentic" = "malformed") {
    super(message);
    this.name = "PacketError";
    this.kind = kind;
  }
}
