import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * A file opened for random-access reads. Weight files can be several GB, so nothing reads them whole:
 * each tensor reads its own byte range when asked.
 */
export class RandomAccessFile {
  private fd: number | undefined;
  readonly size: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'r');
    this.size = fstatSync(this.fd).size;
  }

  read(offset: number, length: number): Uint8Array {
    if (this.fd === undefined) throw new Error(`${this.path}: file already closed`);
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new Error(`${this.path}: read of ${length} bytes at ${offset} is outside the file (${this.size} bytes)`);
    }
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, offset + done);
      if (n === 0) throw new Error(`${this.path}: unexpected end of file at ${offset + done}`);
      done += n;
    }
    return buf;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
