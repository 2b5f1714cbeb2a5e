/**
 * Splits the generator's incoming byte stream into Kafka response frames (int32 size prefix,
 * then that many bytes). A frame that lies inside one chunk is handed on as a view of it; one
 * that spans chunks (every 1 MiB fetch answer) is assembled in a buffer that is reused for the
 * next such frame. The first chunk's part is copied there; the rest is read from the socket
 * straight into it (nextReadTarget), as Kafka's Java client reads an answer into a buffer of
 * its size. So a frame is valid only during its callback: a consumer walking its records must
 * be done with them when the callback returns.
 *
 * Allocating (Buffer.concat) a fresh 1 MiB buffer per fetch answer was a seventh of the consumer
 * thread's busy time, mostly page faults, and fed the garbage collector.
 */
import { assert } from "../../errors.ts";

const SIZE_PREFIX_BYTES = 4;

export type FrameOutcome = "ok" | { badSizeBytes: number };

export class FrameReader {
  private readonly frameBytesMax: number;
  /** Bytes of the size prefix read so far, when it spans chunks. */
  private readonly prefix = Buffer.alloc(SIZE_PREFIX_BYTES);
  private prefixFilled = 0;
  /** Size of the frame being assembled, or -1 while its prefix is awaited. */
  private frameSize = -1;
  private assembly: Buffer = Buffer.alloc(0);
  private assembled = 0;

  constructor(frameBytesMax: number) {
    assert(frameBytesMax > 0, "a positive frame limit");
    this.frameBytesMax = frameBytesMax;
  }

  /**
   * Feeds one chunk; calls `onFrame` for each whole frame (without its prefix) until it returns
   * false. Returns a bad size prefix instead of reading on (the stream cannot be trusted then).
   */
  push(chunk: Buffer, onFrame: (frame: Buffer) => boolean): FrameOutcome {
    let at = 0;
    while (at < chunk.length) {
      if (this.frameSize < 0) {
        const used = this.readPrefix(chunk, at);
        at += used;
        if (this.prefixFilled < SIZE_PREFIX_BYTES) return "ok";
        this.prefixFilled = 0;
        const size = this.prefix.readInt32BE(0);
        if (size < 0 || size > this.frameBytesMax) return { badSizeBytes: size };
        this.frameSize = size;
        this.assembled = 0;
      }
      const size = this.frameSize;
      if (this.assembled === 0 && chunk.length - at >= size) {
        // Whole frame in this chunk: no copy.
        this.frameSize = -1;
        const frame = chunk.subarray(at, at + size);
        at += size;
        if (!onFrame(frame)) return "ok";
        continue;
      }
      if (this.assembly.length < size) this.assembly = Buffer.allocUnsafe(size);
      const used = Math.min(size - this.assembled, chunk.length - at);
      chunk.copy(this.assembly, this.assembled, at, at + used);
      this.assembled += used;
      at += used;
      if (this.assembled < size) return "ok";
      this.frameSize = -1;
      this.assembled = 0;
      if (!onFrame(this.assembly.subarray(0, size))) return "ok";
    }
    return "ok";
  }

  /**
   * Where the next socket read should go: the rest of the frame being assembled, so that the
   * kernel writes it in place; null when no frame is part-assembled (read into any buffer and
   * push() it). Bytes read there are reported with filled().
   */
  nextReadTarget(): Buffer | null {
    if (this.frameSize < 0 || this.assembled === 0) return null;
    return this.assembly.subarray(this.assembled, this.frameSize);
  }

  /** `bytes` were read into the buffer nextReadTarget() gave; calls `onFrame` once it is whole. */
  filled(bytes: number, onFrame: (frame: Buffer) => boolean): void {
    assert(this.frameSize >= 0 && this.assembled + bytes <= this.frameSize, "inside the frame");
    this.assembled += bytes;
    if (this.assembled < this.frameSize) return;
    const size = this.frameSize;
    this.frameSize = -1;
    this.assembled = 0;
    onFrame(this.assembly.subarray(0, size));
  }

  /** Copies what `chunk` has of the size prefix from `at`; returns the bytes taken. */
  private readPrefix(chunk: Buffer, at: number): number {
    const used = Math.min(SIZE_PREFIX_BYTES - this.prefixFilled, chunk.length - at);
    chunk.copy(this.prefix, this.prefixFilled, at, at + used);
    this.prefixFilled += used;
    return used;
  }
}
