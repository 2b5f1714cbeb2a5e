/**
 * Splits the bytes a client reads into MQTT packets by their fixed header alone (apart from
 * the parser under test), to measure each packet the broker sent.
 */
import assert from "node:assert/strict";

/** Fixed header: one type byte and a Remaining Length of at most four bytes. */
const HEADER_BYTES_MAX = 5;

export class FrameMeter {
  /** Bytes of the packet being assembled, until its size is known. */
  private head: number[] = [];
  /** Bytes of the current packet still to skip once its size is known. */
  private remaining = 0;

  /** Feeds bytes; returns the total size of each packet that starts in them. */
  push(bytes: Buffer): number[] {
    const sizes: number[] = [];
    let i = 0;
    while (i < bytes.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, bytes.length - i);
        this.remaining -= take;
        i += take;
        continue;
      }
      this.head.push(bytes[i++]);
      const size = packetSize(this.head);
      if (size === null) continue;
      assert.ok(size >= this.head.length, "a packet is at least its header");
      sizes.push(size);
      this.remaining = size - this.head.length;
      this.head = [];
    }
    return sizes;
  }
}

/** Whole packet size once `head` holds the type byte and the full Remaining Length. */
function packetSize(head: readonly number[]): number | null {
  let value = 0;
  let multiplier = 1;
  for (let i = 1; i < head.length; i++) {
    value += (head[i] & 0x7f) * multiplier;
    if ((head[i] & 0x80) === 0) return i + 1 + value;
    multiplier *= 128;
  }
  assert.ok(head.length < HEADER_BYTES_MAX, "Remaining Length longer than four bytes");
  return null;
}
