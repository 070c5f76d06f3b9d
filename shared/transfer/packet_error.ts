/**
 * The one error the datagram codec throws: the bytes are truncated, malformed or do not
 * authenticate. Callers drop such datagrams and count them; they never reach a user.
 */
export class PacketError extends Error {
  /** Creates the error; `message` reads `Cannot <action>: <state>`. */
  constructor(message: string) {
    super(message);
    this.name = "PacketError";
  }
}
