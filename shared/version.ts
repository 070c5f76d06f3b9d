/** The program's version, shown by `tessenger --version` and sent in the handshake. */
export const VERSION = "0.1.0";
