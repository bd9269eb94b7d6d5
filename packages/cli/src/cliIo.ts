/** Where the CLI writes: stdout lines, stderr lines, and the raw stderr stream for the progress bar. */
export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Raw stderr writes (no newline) for the progress bar; absent when stderr is not a terminal. */
  progress?: { write: (s: string) => void; columns: number };
  /** Raised on Ctrl-C; long work is aborted through it. */
  signal?: AbortSignal;
}

/** The process's own stdout/stderr; the progress bar is offered only when stderr is a TTY. */
export function processIo(signal?: AbortSignal): CliIo {
  const io: CliIo = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) };
  if (process.stderr.isTTY) io.progress = { write: (s) => process.stderr.write(s), get columns() { return process.stderr.columns || 80; } };
  if (signal) io.signal = signal;
  return io;
}
