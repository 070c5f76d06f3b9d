/**
 * The ports' conformance suites against the embedded implementations
 * (`server/local/`): SQLite and the in-process directory, router and throttle.
 */

import { LocalDirectory, LocalRouter } from "../../server/local/presence.ts";
import { SqliteStore } from "../../server/local/sqlite_store.ts";
import { LocalThrottle } from "../../server/local/throttle.ts";
import type { ChatStore } from "../../server/ports.ts";
import { ManualClock } from "../helpers/test_server.ts";
import { chatStoreSuite } from "./chat_store_suite.ts";
import { directorySuite } from "./directory_suite.ts";
import { routerSuite } from "./router_suite.ts";
import { throttleSuite } from "./throttle_suite.ts";

chatStoreSuite("SQLite store", {
  async open() {
    const dir = await Deno.makeTempDir({ prefix: "tessenger-ports-" });
    const path = `${dir}/tessenger.db`;
    let store: ChatStore = new SqliteStore(path);
    return {
      store,
      async reopen() {
        await store.close();
        store = new SqliteStore(path);
        return store;
      },
      async cleanup() {
        await store.close();
        await Deno.remove(dir, { recursive: true });
      },
    };
  },
});

directorySuite("Local directory", {
  maxNodes: 1,
  open() {
    return Promise.resolve({
      directories: [new LocalDirectory()],
      nodeNames: ["local"],
      cleanup: () => Promise.resolve(),
    });
  },
});

throttleSuite("Local throttle", {
  maxNodes: 1,
  open(_nodes, settings) {
    const clock = new ManualClock(1_700_000_000_000);
    return Promise.resolve({
      throttles: [new LocalThrottle({ ...settings, clock: clock.read })],
      advance: (ms) => clock.advance(ms),
      cleanup: () => Promise.resolve(),
    });
  },
});

routerSuite("Local router", {
  maxNodes: 1,
  open() {
    const directory = new LocalDirectory();
    const router = new LocalRouter({ epoch: 0 });
    const since = new Map<string, number>();
    let t = 1_700_000_000_000;
    return Promise.resolve({
      routers: [router],
      async online(_node, user, sink) {
        const at = t++;
        const entry = {
          user,
          ip: "127.0.0.1",
          udpPort: 0,
          since: at,
          frontend: "native" as const,
          node: "local",
        };
        if (!await directory.claim(entry)) throw new Error(`${user} is online`);
        since.set(user, at);
        router.attach(user, sink);
      },
      async offline(_node, user, sink) {
        router.detach(user, sink);
        await directory.release(user, since.get(user)!);
      },
      cleanup: () => Promise.resolve(),
    });
  },
});
