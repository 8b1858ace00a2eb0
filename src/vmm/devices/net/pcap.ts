/**
 * A capture-file writer in the classic libpcap format (the `.pcap` that
 * tcpdump writes and Wireshark/tshark read; see the pcap-savefile(5) man
 * page and draft-ietf-opsawg-pcap): a 24-byte global header, then one
 * record per frame, a 16-byte record header followed by the frame's bytes.
 *
 *   global header (24):  magic 0xa1b2c3d4 (microsecond timestamps) u32,
 *                        version 2.4 (u16, u16), thiszone 0 (i32),
 *                        sigfigs 0 (u32), snaplen 65535 (u32),
 *                        network LINKTYPE_ETHERNET = 1 (u32)
 *   record header (16):  ts_sec u32, ts_usec u32 (< 1 000 000),
 *                        incl_len u32 (bytes stored), orig_len u32 (frame length)
 *
 * Every field is written little-endian; readers detect the byte order from
 * the magic. Timestamps come from the injected clock (milliseconds since
 * the Unix epoch, fractions allowed), so tests get exact files.
 *
 * Each record goes to the sink in one `write`, so a file cut short (the
 * process killed) ends at a record boundary as far as the sink writes
 * atomically. A sink that throws (disk full, file gone) stops the capture:
 * the writer closes, keeps the error in `error`, and the frames keep
 * flowing — a capture must never take the network down.
 */

/** Where capture bytes go (a file, in src/cli/net-host.ts). */
export interface PcapSink {
  write(bytes: Uint8Array): void;
  close(): void;
}

/** The microsecond-resolution magic number. */
export const PCAP_MAGIC = 0xa1b2c3d4;
/** Format version 2.4, the only one readers know. */
export const PCAP_VERSION_MAJOR = 2;
/** See PCAP_VERSION_MAJOR. */
export const PCAP_VERSION_MINOR = 4;
/** Largest number of bytes stored per record (longer frames are cut, orig_len keeps their length). */
export const PCAP_SNAPLEN = 65535;
/** Link type of the records: Ethernet II frames without FCS. */
export const LINKTYPE_ETHERNET = 1;
/** Bytes of the global header. */
export const PCAP_GLOBAL_HEADER_LEN = 24;
/** Bytes of a record header. */
export const PCAP_RECORD_HEADER_LEN = 16;

/** The 24-byte global header. */
export function pcapGlobalHeader(): Uint8Array {
  const out = new Uint8Array(PCAP_GLOBAL_HEADER_LEN);
  const v = new DataView(out.buffer);
  v.setUint32(0, PCAP_MAGIC, true);
  v.setUint16(4, PCAP_VERSION_MAJOR, true);
  v.setUint16(6, PCAP_VERSION_MINOR, true);
  v.setInt32(8, 0, true); // thiszone: timestamps are UTC
  v.setUint32(12, 0, true); // sigfigs
  v.setUint32(16, PCAP_SNAPLEN, true);
  v.setUint32(20, LINKTYPE_ETHERNET, true);
  return out;
}

/** One record (header and data) for `frame` captured at `timeMs` (ms since the epoch). */
export function pcapRecord(frame: Uint8Array, timeMs: number): Uint8Array {
  const stored = Math.min(frame.length, PCAP_SNAPLEN);
  const out = new Uint8Array(PCAP_RECORD_HEADER_LEN + stored);
  const v = new DataView(out.buffer);
  const us = Math.max(0, Math.round(timeMs * 1000)); // nearest µs: the clock is a double
  const sec = Math.floor(us / 1e6);
  v.setUint32(0, sec >>> 0, true);
  v.setUint32(4, us - sec * 1e6, true);
  v.setUint32(8, stored, true);
  v.setUint32(12, frame.length, true);
  out.set(frame.subarray(0, stored), PCAP_RECORD_HEADER_LEN);
  return out;
}

/** Writes a capture to a sink: the global header at once, then a record per `write`. */
export class PcapWriter {
  /** Records written. */
  records = 0;
  /** The sink's failure, once it has failed (the writer is then closed). */
  error: Error | null = null;
  private closed = false;

  /**
   * @param sink where the bytes go; the writer owns it and closes it.
   * @param now the clock, milliseconds since the Unix epoch.
   * @param onError told once, when the sink first fails.
   */
  constructor(
    private readonly sink: PcapSink,
    private readonly now: () => number,
    private readonly onError: (e: Error) => void = () => undefined,
  ) {
    this.put(pcapGlobalHeader());
  }

  /** Append `frame`, stamped with the clock's current time. No-op once closed. */
  write(frame: Uint8Array): void {
    if (this.closed) return;
    if (this.put(pcapRecord(frame, this.now()))) this.records++;
  }

  /** True until `close` (or a sink failure). */
  get open(): boolean {
    return !this.closed;
  }

  /** Close the sink. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.sink.close();
    } catch (e) {
      this.fail(e);
    }
  }

  private put(bytes: Uint8Array): boolean {
    try {
      this.sink.write(bytes);
      return true;
    } catch (e) {
      this.fail(e);
      this.close();
      return false;
    }
  }

  private fail(e: unknown): void {
    if (this.error !== null) return;
    this.error = asError(e);
    this.onError(this.error);
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
