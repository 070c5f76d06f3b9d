/**
 * {@link Router} for a cluster: events for a session of this node go straight
 * to it; events for users on other nodes go over Redis pub/sub, one channel
 * per node (`bus:NODE`), to the node that holds them. One script looks the
 * recipients up in the directory (`directory.ts`) and publishes one message
 * per node that holds some of them, with that node's recipients and the
 * event: a group message costs one round trip from the sender's node and one
 * delivery per node, whatever the number of members.
 *
 * The look-up happens after the sender's write has committed, and a session
 * reads its missed messages after it has claimed its presence, so a message
 * is either pushed to a session or found by its catch-up: never neither.
 * Pushes lost on the way (a Redis restart) leave a gap in the stream, which
 * the receiving session fills from the store.
 *
 * @module
 */

import type { ServerEvent } from "../../shared/protocol.ts";
import type { DeliverySink, Router } from "../ports.ts";
import type { ClusterNode } from "./node.ts";
import { defineScript, type Redis, type Script } from "./redis.ts";

/**
 * ARGV: prefix, this node, event JSON, users... Publishes the event to each
 * other live node holding some of the users; returns how many are online.
 */
const ROUTE = `
local p, me, ev = ARGV[1], ARGV[2], ARGV[3]
local alive, byNode, online = {}, {}, 0
for i = 4, #ARGV do
  local u = ARGV[i]
  local node = redis.call('HGET', p .. 'on:' .. u, 'node')
  if node then
    local a = alive[node]
    if a == nil then
      a = redis.call('EXISTS', p .. 'alive:' .. node) == 1
      alive[node] = a
    end
    if a then
      online = online + 1
      if node ~= me then
        local list = byNode[node]
        if not list then
          list = {}
          byNode[node] = list
        end
        list[#list + 1] = u
      end
    end
  end
end
for node, list in pairs(byNode) do
  redis.call('PUBLISH', p .. 'bus:' .. node, '{"u":' .. cjson.encode(list) .. ',"e":' .. ev .. '}')
end
return online`;

/** What travels on a node's bus channel. */
interface BusMessage {
  /** The recipients on the receiving node. */
  u: string[];
  e: ServerEvent;
}

/** The cluster's {@link Router}, one per node. */
export class RedisRouter implements Router {
  readonly #node: ClusterNode;
  readonly #route: Script;
  readonly #sinks = new Map<string, DeliverySink>();
  readonly #subscriber: Redis;
  readonly #channel: string;
  #onError: (e: unknown) => void = () => {};
  #reconnected: () => void = () => {};
  /** Bus messages received and delivered (for tests and metrics). */
  received = 0;

  /** `subscriber` is a connection of its own: it only listens to this node's channel. */
  constructor(node: ClusterNode, subscriber: Redis) {
    this.#node = node;
    this.#route = defineScript(node.redis, "tessengerRoute", ROUTE);
    this.#subscriber = subscriber;
    this.#channel = `${node.prefix}bus:${node.name}`;
    subscriber.on("message", this.#onMessage);
  }

  /** Starts listening to this node's channel. */
  async listen(): Promise<void> {
    await this.#subscriber.subscribe(this.#channel);
    // From now on, every "ready" is a reconnection: events may have been lost.
    this.#subscriber.on("ready", this.#onReconnect);
  }

  /**
   * Called when the bus is back after it was down: events meant for this
   * node's sessions may have been lost meanwhile, and the sessions should
   * catch up from the store.
   */
  onReconnect(fn: () => void): void {
    this.#reconnected = fn;
  }

  readonly #onReconnect = () => this.#reconnected();

  /** Where failed publishes go (they are not retried: the stores fill the gaps). */
  onError(fn: (e: unknown) => void): void {
    this.#onError = fn;
  }

  readonly #onMessage = (channel: string, text: string) => {
    if (channel !== this.#channel) return;
    let message: BusMessage;
    try {
      message = JSON.parse(text);
    } catch (e) {
      this.#onError(e);
      return;
    }
    this.received++;
    for (const user of message.u) this.#sinks.get(user)?.deliver(message.e);
  };

  attach(user: string, sink: DeliverySink): void {
    this.#sinks.set(user, sink);
  }

  detach(user: string, sink: DeliverySink): void {
    if (this.#sinks.get(user) === sink) this.#sinks.delete(user);
  }

  /**
   * Delivers to one user. When Redis cannot be reached the event is not
   * delivered and the user counts as offline: a durable message waits in the
   * store (the receiver's node catches up once its bus is back).
   */
  async toUser(user: string, event: ServerEvent): Promise<boolean> {
    const sink = this.#sinks.get(user);
    if (sink) {
      sink.deliver(event);
      return true;
    }
    try {
      const online = await this.#route(
        this.#node.prefix,
        this.#node.name,
        JSON.stringify(event),
        user,
      );
      return (online as number) > 0;
    } catch (e) {
      this.#onError(e);
      return false;
    }
  }

  toUsers(users: readonly string[], event: ServerEvent, except?: string): void {
    const remote: string[] = [];
    for (const user of users) {
      if (user === except) continue;
      const sink = this.#sinks.get(user);
      if (sink) sink.deliver(event);
      else remote.push(user);
    }
    if (remote.length === 0) return;
    this.#route(this.#node.prefix, this.#node.name, JSON.stringify(event), ...remote)
      .catch(this.#onError);
  }

  /** Stops listening. */
  async close(): Promise<void> {
    this.#subscriber.off("message", this.#onMessage);
    this.#subscriber.off("ready", this.#onReconnect);
    try {
      await this.#subscriber.unsubscribe(this.#channel);
    } catch {
      // the connection is down: nothing to stop
    }
  }
}
