/**
 * A one-line progress display on stderr: redrawn in place on a terminal, a line every few seconds otherwise (so a
 * CI log or a redirected file stays readable).
 */
export class ProgressLine {
  private lastDraw = 0;
  private readonly started = performance.now();
  private readonly tty: boolean;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly intervalMs = stream.isTTY ? 100 : 5000,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  update(text: (elapsedSeconds: number) => string, force = false): void {
    const now = performance.now();
    if (!force && now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    const line = text((now - this.started) / 1000);
    if (this.tty) this.stream.write(`\r\x1b[2K${line}`);
    else this.stream.write(`${line}\n`);
  }

  done(): void {
    if (this.tty) this.stream.write('\n');
  }
}

export function formatMegabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

export function bar(fraction: number, width = 24): string {
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}
