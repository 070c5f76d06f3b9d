/**
 * One end of a bench:transfer path-matrix run, started by bench/transfer.ts in a host
 * namespace of the path lab (dev/path_lab.ts). It prints JSON lines: `{"port"}` once it
 * listens, then `{"start"}` (a sender), `{"progress", "at"}` every PROGRESS_MS (a receiver)
 * and `{"done", "bytes", "ok"}`; times are wall-clock ms, comparable across the two
 * processes.
 *
 *   path_peer.ts tcp-recv FILE                      # prints {"port"}, receives, fsyncs
 *   path_peer.ts tcp-send FILE HOST PORT
 *   path_peer.ts ours-recv DIR OFFER_JSON
 *   path_peer.ts ours-send FILE HOST PORT OFFER_JSON [bbr|newreno]
 *
 * @module
 */

import { TransferEndpoint, type TransferOffer } from "../client/transfer_driver.ts";
import type { CongestionControlName } from "../shared/transfer/mod.ts";
import { receiveToFile, sendFile } from "./tcp_copy.ts";

const now = () => performance.timeOrigin + performance.now();
const say = (o: unknown) => console.log(JSON.stringify(o));
/** How often a receiver tells what it has (a run cut at its time limit reports that). */
const PROGRESS_MS = 500;

/** Prints `{"progress": bytes(), "at"}` every PROGRESS_MS until the returned stop(). */
function reportProgress(bytes: () => number): () => void {
  const timer = setInterval(() => say({ progress: bytes(), at: now() }), PROGRESS_MS);
  return () => clearInterval(timer);
}

async function tcpReceive(path: string): Promise<void> {
  const listener = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  say({ port: (listener.addr as Deno.NetAddr).port });
  const conn = await listener.accept();
  listener.close();
  const progress = { bytes: 0 };
  const stop = reportProgress(() => progress.bytes);
  const bytes = await receiveToFile(conn, path, progress);
  stop();
  say({ done: now(), bytes, ok: true });
}

async function tcpSend(path: string, hostname: string, port: number): Promise<void> {
  say({ start: now() });
  await sendFile(path, await Deno.connect({ hostname, port }));
}

async function oursReceive(dir: string, offer: TransferOffer): Promise<void> {
  const endpoint = await TransferEndpoint.open({ hostname: "0.0.0.0", port: 0, downloadsDir: dir });
  const handle = endpoint.expect(offer, "10.9.1.2");
  say({ port: endpoint.port });
  const stop = reportProgress(() => handle.progress().bytes);
  const result = await handle.done;
  const at = now();
  stop();
  await endpoint.close();
  say({ done: at, ...result });
}

async function oursSend(
  path: string,
  hostname: string,
  port: number,
  offer: TransferOffer,
  cc: CongestionControlName,
): Promise<void> {
  const endpoint = await TransferEndpoint.open({
    hostname: "0.0.0.0",
    port: 0,
    downloadsDir: ".",
    congestionControl: cc,
  });
  say({ start: now() });
  const handle = endpoint.send(offer, path, { hostname, port });
  const result = await handle.done;
  const s = handle.stats();
  await endpoint.close();
  say({
    sent: result.ok,
    retransmissions: s.retransmissions,
    lost: s.lostPackets,
    srttMs: s.srttMs,
    reason: result.ok ? undefined : result.reason,
  });
}

if (import.meta.main) {
  const [mode, ...a] = Deno.args;
  switch (mode) {
    case "tcp-recv":
      await tcpReceive(a[0]);
      break;
    case "tcp-send":
      await tcpSend(a[0], a[1], Number(a[2]));
      break;
    case "ours-recv":
      await oursReceive(a[0], JSON.parse(a[1]));
      break;
    case "ours-send":
      await oursSend(a[0], a[1], Number(a[2]), JSON.parse(a[3]), (a[4] ?? "bbr") as "bbr");
      break;
    default:
      console.error(`path_peer: unknown mode ${JSON.stringify(mode)}`);
      Deno.exit(2);
  }
}
