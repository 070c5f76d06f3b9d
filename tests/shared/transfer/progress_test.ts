import { assert } from "../../helpers/assert.ts";
import {
  alternativeName,
  formatBytes,
  formatProgress,
  RateMeter,
  receivedFileName,
  sanitizeBaseName,
} from "../../../shared/transfer/mod.ts";

Deno.test("formatProgress() shows bytes, rate and ETA on one line", () => {
  const MiB = 1024 * 1024;
  assert.equal(
    formatProgress({
      name: "video.mp4",
      bytes: 12.3 * MiB,
      total: 100 * MiB,
      rateBps: 48.1 * MiB,
      etaSec: 1.8,
    }),
    "video.mp4: 12.3 MiB / 100.0 MiB  48.1 MiB/s  ETA 2s",
  );
  assert.equal(
    formatProgress({ bytes: 0, total: 1024, rateBps: 0, etaSec: undefined }),
    "0 B / 1.0 KiB  0 B/s  ETA --",
  );
  assert.equal(formatBytes(3 * 1024 ** 3), "3.0 GiB");
  assert.match(formatProgress({ bytes: 1, total: 2, rateBps: 1, etaSec: 3725 }), /ETA 1h02m$/);
});

Deno.test("the progress line says whether the bytes go direct or via the relay", () => {
  const info = { bytes: 1024, total: 2048, rateBps: 1024, etaSec: 1 };
  assert.equal(
    formatProgress({ ...info, path: "relay" }),
    "1.0 KiB / 2.0 KiB  1.0 KiB/s  ETA 1s  via relay",
  );
  assert.equal(
    formatProgress({ ...info, path: "direct" }),
    "1.0 KiB / 2.0 KiB  1.0 KiB/s  ETA 1s  direct",
  );
});

Deno.test("RateMeter measures the rate over its window and estimates the time left", () => {
  const meter = new RateMeter();
  assert.equal(meter.rate(), 0);
  assert.equal(meter.eta(0, 100), undefined);
  meter.record(0, 0);
  meter.record(1000, 5000);
  assert.equal(meter.rate(), 5000);
  assert.equal(meter.eta(5000, 15000), 2);
  meter.record(5000, 5000); // stalled for four seconds: the old samples age out
  assert.equal(meter.rate(), 0);
});

Deno.test("sanitizeBaseName() keeps the base name only and strips what is unsafe", () => {
  assert.equal(sanitizeBaseName("../../etc/passwd"), "passwd");
  assert.equal(sanitizeBaseName("..\\..\\boot.ini"), "boot.ini");
  assert.equal(sanitizeBaseName(".."), "file");
  assert.equal(sanitizeBaseName(""), "file");
  assert.equal(sanitizeBaseName("/"), "file");
  assert.equal(sanitizeBaseName(".hidden"), "hidden");
  assert.equal(sanitizeBaseName("a\u0000b\nc\u001b[31m.txt"), "a_b_c_[31m.txt");
  // A right-to-left override would show "evilexe.txt"; line separators would split log lines.
  assert.equal(sanitizeBaseName("evil\u202Etxt.exe"), "eviltxt.exe");
  assert.equal(sanitizeBaseName("a\u2028b\u200Bc\u2066d\u0085e.mp4"), "a_bcd_e.mp4");
  assert.equal(sanitizeBaseName("x".repeat(300) + ".mp4").length, 200);
  assert.ok(sanitizeBaseName("x".repeat(300) + ".mp4").endsWith(".mp4"));
});

Deno.test("receivedFileName() names the file SENDER_FILE", () => {
  assert.equal(receivedFileName("Yoda", "clips/video.mp4"), "Yoda_video.mp4");
  assert.equal(receivedFileName("../x", "../../y"), "x_y");
});

Deno.test("alternativeName() numbers copies before the extension", () => {
  assert.equal(alternativeName("a.mp4", 0), "a.mp4");
  assert.equal(alternativeName("a.mp4", 1), "a (1).mp4");
  assert.equal(alternativeName("archive", 2), "archive (2)");
});
