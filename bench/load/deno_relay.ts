/**
 * The Deno floor for `bench:load`: the least an IRC server written in Deno
 * can do for the bench's IRC driver. It registers a nick (NICK/USER → 001),
 * joins channels (JOIN → 366), relays PRIVMSG to a channel's other members or
 * to one nick, and answers PING. Nothing is stored, logged, checked or
 * limited, so what it reaches is what Deno's sockets allow on this machine
 * with this generator, next to which TESSENGER's own work (parsing JSON,
 * storing, logging and acknowledging every message) can be read.
 *
 * Writes are coalesced as in TESSENGER: everything a read produced for one
 * client goes out in one write; what arrives for a client while its write is
 * under way follows in the next.
 *
 * Run: `deno run --allow-net=127.0.0.1 bench/load/deno_relay.ts PORT`.
 *
 * @module
 */

const SERVER = "relay";
const encoder = new TextEncoder();

class Client {
  nick = "";
  readonly channels = new Set<string>();
  #out = "";
  #writing = false;
  #closed = false;

  constructor(readonly conn: Deno.Conn) {}

  /** Queues a line; {@link flush} writes what is queued. */
  queue(line: string): void {
    if (this.#closed) return;
    if (this.#out === "") dirty.push(this);
    this.#out += line;
  }

  flush(): void {
    if (this.#writing || this.#out === "" || this.#closed) return;
    this.#writing = true;
    const bytes = encoder.encode(this.#out);
    this.#out = "";
    this.#write(bytes);
  }

  #write(bytes: Uint8Array): void {
    this.conn.write(bytes).then((n) => {
      if (n < bytes.length) return this.#write(bytes.subarray(n));
      this.#writing = false;
      this.flush();
    }, () => this.close());
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    if (this.nick !== "" && nicks.get(this.nick) === this) nicks.delete(this.nick);
    for (const c of this.channels) channels.get(c)?.delete(this);
  }
}

const nicks = new Map<string, Client>();
const channels = new Map<string, Set<Client>>();
/** Clients queued to since the last flush. */
let dirty: Client[] = [];

function flushAll(): void {
  const due = dirty;
  dirty = [];
  for (const c of due) c.flush();
}

function handle(client: Client, line: string): void {
  const space = line.indexOf(" ");
  const verb = (space === -1 ? line : line.slice(0, space)).toUpperCase();
  const rest = space === -1 ? "" : line.slice(space + 1);
  switch (verb) {
    case "NICK":
      if (client.nick === "" && rest !== "" && !nicks.has(rest)) {
        client.nick = rest;
        nicks.set(rest, client);
      }
      return;
    case "USER":
      client.queue(`:${SERVER} 001 ${client.nick} :Welcome\r\n`);
      return;
    case "PING":
      client.queue(`:${SERVER} PONG ${SERVER} ${rest}\r\n`);
      return;
    case "JOIN": {
      const name = rest.split(" ")[0];
      let members = channels.get(name);
      if (!members) channels.set(name, members = new Set());
      members.add(client);
      client.channels.add(name);
      client.queue(`:${SERVER} 366 ${client.nick} ${name} :End of /NAMES list.\r\n`);
      return;
    }
    case "PRIVMSG": {
      const target = rest.slice(0, rest.indexOf(" "));
      const out = `:${client.nick}!${client.nick}@127.0.0.1 ${line}\r\n`;
      if (target.startsWith("#")) {
        for (const m of channels.get(target) ?? []) if (m !== client) m.queue(out);
      } else {
        nicks.get(target)?.queue(out);
      }
      return;
    }
  }
}

async function serve(conn: Deno.Conn): Promise<void> {
  const client = new Client(conn);
  const buf = new Uint8Array(16 * 1024);
  const decoder = new TextDecoder();
  let carry = "";
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      const text = carry + decoder.decode(buf.subarray(0, n), { stream: true });
      let start = 0;
      for (let nl = text.indexOf("\n"); nl !== -1; nl = text.indexOf("\n", start)) {
        const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        if (end > start) handle(client, text.slice(start, end));
        start = nl + 1;
      }
      carry = text.slice(start);
      flushAll();
    }
  } catch {
    // reset by the peer
  } finally {
    client.close();
  }
}

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? "6667");
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  for await (const conn of listener) {
    conn.setNoDelay(true);
    serve(conn);
  }
}
