/**
 * A receiving peer in a process of its own, for tests that kill it: receives one
 * transfer into a downloads dir and prints its UDP port, then its result, as JSON lines.
 *
 *   deno run -A tests/helpers/receive_one.ts DOWNLOADS_DIR OFFER_JSON
 *   → {"port":PORT}  …  {"result":{…}}
 *
 * @module
 */

import { TransferEndpoint, type TransferOffer } from "../../client/transfer_driver.ts";

const [dir, offerJson] = Deno.args;
const offer = JSON.parse(offerJson) as TransferOffer;
const endpoint = await TransferEndpoint.open({
  hostname: "127.0.0.1",
  port: 0,
  downloadsDir: dir,
  payloadSize: 1200,
  striping: false,
});
const handle = endpoint.expect(offer, "127.0.0.1");
console.log(JSON.stringify({ port: endpoint.port }));
const result = await handle.done;
await endpoint.close();
console.log(JSON.stringify({ result }));
