import { assertEquals } from "../helpers/assert.ts";
import {
  ACK_DELAY_MS,
  ACK_EVERY_MESSAGES,
  AckScheduler,
  type AckSource,
} from "../../client/connection.ts";
import type { AckFrame } from "../../shared/protocol.ts";

/** A source with `pending` messages, whose ack names how many it covered. */
function source(pending: number): AckSource & { pending: number } {
  return {
    pending,
    takeAck(): AckFrame | undefined {
      if (this.pending === 0) return undefined;
      const ack: AckFrame = { t: "ack", inbox: this.pending };
      this.pending = 0;
      return ack;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("the ack scheduler acknowledges a few messages once, after the delay, not at once", async () => {
  const sent: AckFrame[] = [];
  const s = source(3);
  const acks = new AckScheduler(s, (a) => sent.push(a));
  acks.soon();
  acks.soon(); // a second read before the timer: still one ack
  assertEquals(sent, []);
  await sleep(ACK_DELAY_MS * 3);
  assertEquals(sent, [{ t: "ack", inbox: 3 }]);
});

Deno.test("the ack scheduler acknowledges at once when many messages are pending", () => {
  const sent: AckFrame[] = [];
  const acks = new AckScheduler(source(ACK_EVERY_MESSAGES), (a) => sent.push(a));
  acks.soon();
  assertEquals(sent, [{ t: "ack", inbox: ACK_EVERY_MESSAGES }]);
});

Deno.test("the ack scheduler's flush acknowledges now and disarms the timer; stop drops it", async () => {
  const sent: AckFrame[] = [];
  const s = source(2);
  const acks = new AckScheduler(s, (a) => sent.push(a));
  acks.soon();
  acks.flush();
  assertEquals(sent, [{ t: "ack", inbox: 2 }]);
  s.pending = 5;
  acks.soon();
  acks.stop(); // the connection died: nothing more goes out
  await sleep(ACK_DELAY_MS * 3);
  assertEquals(sent, [{ t: "ack", inbox: 2 }]);
  acks.flush(); // what stop left pending goes out only when flushed
  assertEquals(sent.length, 2);
});
