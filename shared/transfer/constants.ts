/**
 * The tunable numbers of the P2P transfer protocol; the congestion controllers keep their
 * own (congestion/bbr.ts, congestion/new_reno.ts uses those marked NewReno's here).
 * docs/transfer.md explains each one; change them together with that page.
 *
 * @module
 */

/** First byte of every datagram: magic high nibble 0xA, protocol version 1. */
export const WIRE_VERSION = 0xa1;
/** Bytes of the cleartext header: version, type, transfer id (8), packet number (8). */
export const HEADER_SIZE = 18;
/** Bytes of the authentication tag at the end of every datagram. */
export const TAG_SIZE = 16;
/** Bytes of the DATA frame header inside the protected body (chunk index). */
export const DATA_FRAME_HEADER = 4;
/** Bytes a DATA datagram spends on anything but file data. */
export const DATA_OVERHEAD = HEADER_SIZE + DATA_FRAME_HEADER + TAG_SIZE;
/** Length of a transfer id in bytes. */
export const TRANSFER_ID_SIZE = 8;
/** Length of the per-transfer secret in bytes. */
export const SECRET_SIZE = 32;

/** Default UDP payload (whole datagram) size: safe on real paths (QUIC's minimum MTU). */
export const DEFAULT_PAYLOAD_SIZE = 1200;
/** Smallest UDP payload size accepted as an option. */
export const MIN_PAYLOAD_SIZE = 256;
/** Largest UDP payload an IPv4 datagram can carry. */
export const MAX_PAYLOAD_SIZE = 65507;
/** Most extra receive ports a receiver may offer in ACCEPT (striping). */
export const MAX_EXTRA_PORTS = 15;
/**
 * Receive sockets a receiver uses per loopback endpoint (1 + extra ports offered in
 * ACCEPT). Each socket brings its own kernel receive buffer (≈ 208 KiB, three 60 000-B
 * datagrams), which Deno cannot enlarge (docs/transfer.md § Striping).
 */
export const LOOPBACK_RECEIVE_SOCKETS = 8;
/** Largest file name carried in HELLO, in UTF-8 bytes. */
export const MAX_FILE_NAME_BYTES = 1024;
/** Largest reason text carried in CANCEL, in UTF-8 bytes. */
export const MAX_REASON_BYTES = 200;
/** Largest number of chunks a transfer can have (chunk indexes are u32). */
export const MAX_CHUNKS = 0xffff_ffff;

/** Size of the anti-replay window and of the sender's packet-number ring. */
export const PACKET_WINDOW = 1 << 16;
/** Upper bound on the receive window in chunks (keeps in-flight far below PACKET_WINDOW). */
export const MAX_WINDOW_CHUNKS = 16384;
/**
 * Receive window of a striped (loopback) transfer: what the receiver's 8 sockets' kernel
 * buffers hold (3 datagrams of 60 000 B each, 1.44 MB), rounded down. With no more than
 * that in flight, the kernel never drops a datagram however long the receiver pauses.
 */
export const LOOPBACK_RECEIVE_WINDOW_BYTES = 1024 * 1024;
/** Default receive window (receiver's buffer for out-of-order and unwritten data). */
export const DEFAULT_RECEIVE_WINDOW_BYTES = 8 * 1024 * 1024;
/** The sender asks for more file data only while less than this is read but not yet sent. */
export const READ_AHEAD_BYTES = 2 * 1024 * 1024;
/** Default bound on file data the sender keeps in memory (unacknowledged + read ahead). */
export const DEFAULT_SEND_BUFFER_BYTES = 16 * 1024 * 1024;

/** Copies of the first HELLO the sender sends (a lost one would cost INITIAL_RTO_MS). */
export const INITIAL_HELLOS = 2;
/** RTT assumed for pacing before the first sample (ms). */
export const INITIAL_RTT_MS = 100;
/** Retransmission timeout before the first RTT sample (ms). */
export const INITIAL_RTO_MS = 500;
/** Lower bound on the retransmission timeout (ms). */
export const MIN_RTO_MS = 50;
/** Upper bound on the (backed-off) retransmission timeout (ms). */
export const MAX_RTO_MS = 8000;
/** Clock granularity assumed by timers and RTT variance (ms). */
export const TIMER_GRANULARITY_MS = 1;
/**
 * A packet is lost once a packet sent this many packet numbers later was received (on a
 * striped transfer: this many later packets of its stripe).
 */
export const PACKET_THRESHOLD = 3;
/** Reordering seen: the packet threshold doubles per spurious loss, up to this. */
export const MAX_PACKET_THRESHOLD = 128;
/** A packet is lost once this multiple of the RTT passed and a later packet was received. */
export const TIME_THRESHOLD = 9 / 8;
/** Congestion window at start, in packets (RFC 9002 uses 10). */
export const INITIAL_WINDOW_PACKETS = 10;
/** Congestion window never falls below this many packets. */
export const MIN_WINDOW_PACKETS = 2;
/** NewReno's multiplicative decrease on a loss event (Reno's is 0.5, CUBIC's 0.7). */
export const LOSS_REDUCTION_FACTOR = 0.7;
/** NewReno's pacing rate = gain × cwnd / srtt; above 1 so pacing never is the bottleneck. */
export const PACING_GAIN = 1.25;
/** NewReno's pacing gain during slow start, so the window can double each round trip. */
export const SLOW_START_PACING_GAIN = 2;
/** The pacer lets this many packets go back to back. */
export const PACING_BURST_PACKETS = 4;

/**
 * Receiver acknowledges after this many in-order data packets (unless told otherwise):
 * each ACK costs both peers a send, a receive and a seal or open
 * (docs/lab/2026-11-25-transfer-ack-frequency.md)...
 */
export const DEFAULT_ACK_EVERY = 8;
/**
 * ...except until this many DATA packets in a row arrived in order, at the start and after
 * any gap, hole or duplicate: those are acknowledged every 2 (or every `ackEvery`, if
 * fewer), so that slow start gets prompt feedback and a window shrunk by losses is never
 * left waiting for the ACK delay, as QUIC stacks start before they decimate ACKs.
 */
export const ACK_DECIMATION_AFTER = 100;
/** ACK spacing (in-order DATA packets) until ACK_DECIMATION_AFTER arrived in order in a row. */
export const INITIAL_ACK_EVERY = 2;
/** ...or once this many bytes of data are unacknowledged, whichever comes first. */
export const ACK_EVERY_BYTES = 16 * 1024;
/** Receiver acknowledges at most this long after an unacknowledged packet (ms). */
export const DEFAULT_MAX_ACK_DELAY_MS = 2;
/** Largest number of SACK ranges in one ACK. */
export const MAX_ACK_RANGES = 64;

/**
 * A backed-off retransmission or probe waits at most idle timeout / this, so that many tries
 * go out before a silent peer is given up (a lossy path loses several in a row).
 */
export const RETRIES_PER_IDLE = 10;
/** A transfer fails when nothing authentic was heard from the peer for this long (ms). */
export const DEFAULT_IDLE_TIMEOUT_MS = 10_000;
/** After DONE or CANCEL a machine lingers this many RTOs to answer retransmissions. */
export const DRAIN_RTO_MULTIPLE = 3;
/** ...but at least this long (ms). */
export const MIN_DRAIN_MS = 1000;
/** A closing machine repeats CANCEL at most this many times. */
export const MAX_CANCEL_REPEATS = 5;
/** At most one progress event per this interval (ms). */
export const PROGRESS_INTERVAL_MS = 100;
