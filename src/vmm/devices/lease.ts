/**
 * Host resources that outlive a guest: one disk image or one network port
 * handed to successive machines across reboots (watch mode, `monitor
 * reset`), as Xen's toolstack keeps a domain's image files and bridge
 * ports when the domain reboots.
 *
 * A backend owns what it is given and closes it with its machine
 * (`Machine.close()`). Here it is given a lease instead: a view of the
 * shared resource that behaves like the resource itself until it is
 * revoked. Each new `lease()` revokes the previous one, so only the newest
 * machine reaches the resource even while the old one still exists (a
 * reboot that waits for gdb to resume the guest builds the new machine
 * first). Closing a lease releases nothing on the host; `close()` on the
 * shared object does, once, at the end of the run.
 *
 * Revoked leases fail like closed resources: block I/O throws
 * EBLKCLOSED (the backend answers BLKIF_RSP_ERROR), sends are dropped as
 * `closed`, a receiver registered late is ignored; a flush is a no-op, for
 * the revocation flushed a writable image, so everything the old guest wrote is on stable storage
 * before the new guest starts.
 */
import { BlockHostError, type BlockHost } from './block/disk.js';
import type { NetPort } from './net/port.js';

/** One disk image shared by the successive machines of a run. */
export class SharedBlockHost {
  private generation = 0;
  private closed = false;

  constructor(readonly host: BlockHost) {}

  /** A view for the next machine; the previous view stops working. */
  lease(): BlockHost {
    this.revoke();
    const me = ++this.generation;
    const shared = this;
    const host = this.host;
    let released = false;
    const live = (): void => {
      if (released || shared.closed || me !== shared.generation) {
        throw new BlockHostError('EBLKCLOSED', 'the image was handed over to a rebooted guest');
      }
    };
    return {
      size: host.size,
      readonly: host.readonly,
      read(offset, length) { live(); return host.read(offset, length); },
      write(offset, bytes) { live(); host.write(offset, bytes); },
      // Revoking flushed the image: what this view wrote is durable already.
      flush() { if (me === shared.generation && !released && !shared.closed) host.flush(); },
      discard(offset, length) { live(); host.discard(offset, length); },
      close() { released = true; },
    };
  }

  /** Flush and release the image. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (!this.host.readonly) this.host.flush();
    } finally {
      this.host.close();
    }
  }

  private revoke(): void {
    if (this.closed) throw new BlockHostError('EBLKCLOSED', 'the image is closed');
    if (this.generation > 0 && !this.host.readonly) this.host.flush();
  }
}

/** One network port (switch port or VXLAN socket) shared by the successive machines of a run. */
export class SharedNetPort {
  private generation = 0;
  private closed = false;

  constructor(readonly port: NetPort) {}

  /** A view for the next machine; the previous view stops sending and receiving. */
  lease(): NetPort {
    if (this.closed) throw new Error('lease of a closed port');
    const me = ++this.generation;
    const shared = this;
    const port = this.port;
    // Frames for the old guest have nowhere to go until the new netback connects.
    port.onReceive(null);
    let released = false;
    const current = (): boolean => !released && !shared.closed && me === shared.generation;
    return {
      config: port.config,
      mac: port.mac,
      local: port.local,
      get stats() { return port.stats; },
      send(frame) {
        if (!current()) {
          port.stats.dropped.closed++;
          return false;
        }
        return port.send(frame);
      },
      onReceive(cb) {
        if (current()) port.onReceive(cb);
      },
      close() {
        if (current()) port.onReceive(null);
        released = true;
      },
    };
  }

  /** Leave the switch / close the socket and the capture file. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.port.close();
  }
}
