import type { ProgressEvent } from '@stablesr/core';

/** Where the bar is drawn: a terminal stream that understands `\r` and has a width. */
export interface ProgressSink {
  write: (s: string) => void;
  columns: number;
}

/** `83` → `1:23`, `3725` → `1:02:05`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * A one-line progress bar on a terminal: `[2/5] a.png  sample ████░░░░ 120/800 15%  step 30/200 tile 1/4  ETA 2:10`.
 * The ETA of a stage is its elapsed time per unit times the units left (sampling dominates, and its
 * steps × tiles units take equal time). Without a sink (stderr not a TTY, or `--quiet`) it does nothing.
 * Redraws at most every `intervalMs`, except when a stage completes.
 */
export class ProgressBar {
  private stageStart = new Map<string, { t: number; done: number }>();
  private lastDraw = -Infinity;
  private drawn = false;

  constructor(
    private readonly sink: ProgressSink | undefined,
    private readonly now: () => number = () => performance.now(),
    private readonly intervalMs = 100,
  ) {}

  /** Reports `event` for the job named `label` (empty for a single image). */
  update(event: ProgressEvent, label = ''): void {
    if (!this.sink) return;
    const key = `${label}\u0000${event.stage}`;
    const t = this.now();
    let start = this.stageStart.get(key);
    if (!start || event.done < start.done) {
      // The clock of a stage starts at its first report, so model loading does not count against the ETA.
      start = { t, done: event.done };
      this.stageStart.set(key, start);
    }
    const finished = event.done >= event.total;
    if (!finished && t - this.lastDraw < this.intervalMs) return;
    this.lastDraw = t;
    const unitsSeen = event.done - start.done;
    const eta = unitsSeen > 0 && !finished ? ((t - start.t) / unitsSeen) * (event.total - event.done) / 1000 : undefined;
    this.draw(this.render(event, label, eta));
  }

  /** The text of one bar (without `\r`), fitted to the terminal width. */
  render(event: ProgressEvent, label: string, etaSeconds: number | undefined): string {
    const frac = event.total > 0 ? Math.min(1, Math.max(0, event.done / event.total)) : 0;
    const detail = event.detail ? Object.entries(event.detail).map(([k, v]) => `${k} ${v}`).join(' ') : '';
    const tail = [`${event.done}/${event.total} ${Math.floor(frac * 100)}%`, detail, etaSeconds !== undefined ? `ETA ${formatDuration(etaSeconds)}` : ''].filter(Boolean).join('  ');
    const head = [label, event.stage].filter(Boolean).join('  ');
    const width = Math.max(10, Math.min(30, this.sink!.columns - head.length - tail.length - 4));
    const full = Math.round(frac * width);
    const line = `${head} ${'█'.repeat(full)}${'░'.repeat(width - full)} ${tail}`;
    return line.length >= this.sink!.columns ? line.slice(0, this.sink!.columns - 1) : line;
  }

  /** Prints a whole line above the bar (e.g. a batch item finished). */
  log(line: string, print: (s: string) => void): void {
    this.clear();
    print(line);
  }

  /** Removes the bar so that following output starts on a clean line. */
  clear(): void {
    if (this.sink && this.drawn) this.sink.write('\r\x1b[2K');
    this.drawn = false;
  }

  private draw(text: string): void {
    this.sink!.write(`\r\x1b[2K${text}`);
    this.drawn = true;
  }
}
