// The guest log: bytes the guest writes to COM1, kept whole and split into lines as they arrive
// (for live printing). Decoded as UTF-8; a carriage return before a newline is dropped.

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export class SerialLog {
  private bytes = new Uint8Array(4096);
  private length = 0;
  /** Start of the line not yet emitted. */
  private lineStart = 0;
  private readonly decoder = new TextDecoder();

  /** onLine receives each complete line without its newline. */
  constructor(private readonly onLine: ((line: string) => void) | null = null) {}

  /** Appends one byte from the serial port. */
  push(byte: number): void {
    if (this.length === this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    this.bytes[this.length++] = byte;
    if (byte === NEWLINE) this.emit(this.length - 1, this.length);
  }

  /** Emits a last line that has no newline yet. */
  flush(): void {
    if (this.lineStart < this.length) this.emit(this.length, this.length);
  }

  /** Everything received so far. */
  text(): string {
    return this.decoder.decode(this.bytes.subarray(0, this.length));
  }

  private emit(end: number, next: number): void {
    let stop = end;
    if (stop > this.lineStart && this.bytes[stop - 1] === CARRIAGE_RETURN) stop--;
    const line = this.decoder.decode(this.bytes.subarray(this.lineStart, stop));
    this.lineStart = next;
    if (this.onLine !== null) this.onLine(line);
  }
}
