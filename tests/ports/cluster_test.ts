/**
 * The ports' conformance suites against the cluster's implementations
 * (`server/cluster/`), on the PostgreSQL and Redis that `.ci/run` starts
 * (dev/engines.ts). Without them every test is skipped, saying why.
 */

import { createDatabase, dropNamespace, testEngineUrls, testNamespace } from "../../dev/engines.ts";
import { openPresence, PgStore, type Presence } from "../../server/cluster/mod.ts";
import type { ChatStore } from "../../server/ports.ts";
import { ManualClock } from "../helpers/test_server.ts";
import { chatStoreSuite } from "./chat_store_suite.ts";
import { directorySuite } from "./directory_suite.ts";
import { routerSuite } from "./router_suite.ts";
import { type ThrottleSettings, throttleSuite } from "./throttle_suite.ts";

const engines = testEngineUrls();
const skip = engines.ok ? undefined : engines.reason;

chatStoreSuite("PostgreSQL store", {
  skip,
  async open() {
    if (!engines.ok) throw new Error(engines.reason);
    const db = await createDatabase(engines.database);
    let store: ChatStore = await PgStore.open(db.url, { max: 4 });
    return {
      store,
      async reopen() {
        await store.close();
        store = await PgStore.open(db.url, { max: 4 });
        return store;
      },
      async cleanup() {
        await store.close();
        await db.drop();
      },
    };
  },
});

const THROTTLE = {
  maxAttempts: 3,
  blockMs: 10_000,
  addressFailureBurst: 30,
  addressFailuresPerMinute: 3,
};

/** `nodes` nodes of one fresh cluster in the test Redis. */
async function presences(
  nodes: number,
  throttle: ThrottleSettings = THROTTLE,
  clock?: ManualClock,
): Promise<{ nodes: Presence[]; names: string[]; close(): Promise<void> }> {
  if (!engines.ok) throw new Error(engines.reason);
  const namespace = testNamespace();
  const names = Array.from({ length: nodes }, (_, i) => `node${i + 1}`);
  const opened = await Promise.all(names.map((nodeName) =>
    openPresence({
      redis: engines.redis,
      namespace,
      nodeName,
      throttle,
      clock: clock?.read,
    })
  ));
  return {
    nodes: opened,
    names,
    async close() {
      await Promise.all(opened.map((p) => p.close()));
      await dropNamespace(engines.redis, namespace);
    },
  };
}

directorySuite("Redis directory", {
  skip,
  maxNodes: 3,
  async open(n) {
    const p = await presences(n);
    return { directories: p.nodes.map((x) => x.directory), nodeNames: p.names, cleanup: p.close };
  },
});

throttleSuite("Redis throttle", {
  skip,
  maxNodes: 3,
  async open(n, settings) {
    const clock = new ManualClock(1_700_000_000_000);
    const p = await presences(n, settings, clock);
    return {
      throttles: p.nodes.map((x) => x.throttle),
      advance: (ms) => clock.advance(ms),
      cleanup: p.close,
    };
  },
});

routerSuite("Redis router", {
  skip,
  maxNodes: 3,
  async open(n) {
    const p = await presences(n);
    const since = new Map<string, number>();
    let t = 1_700_000_000_000;
    return {
      routers: p.nodes.map((x) => x.router),
      async online(node, user, sink) {
        const at = t++;
        const entry = {
          user,
          ip: "127.0.0.1",
          udpPort: 0,
          since: at,
          frontend: "native" as const,
          node: p.names[node],
        };
        if (!await p.nodes[node].directory.claim(entry)) throw new Error(`${user} is online`);
        since.set(user, at);
        p.nodes[node].router.attach(user, sink);
      },
      async offline(node, user, sink) {
        p.nodes[node].router.detach(user, sink);
        await p.nodes[node].directory.release(user, since.get(user)!);
      },
      cleanup: p.close,
    };
  },
});
