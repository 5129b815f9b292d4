/**
 * A one-line progress display on stderr: redrawn in place on a terminal, a plain line every few
 * seconds otherwise (CI logs, pipes), so long work is visible either way.
 */
export function progressLine(label: string, options: { intervalMs?: number } = {}) {
  const tty = process.stderr.isTTY === true;
  const interval = options.intervalMs ?? 5000;
  let last = 0;
  let lastText = '';
  return {
    update(done: number, total: number | null, detail = '') {
      const now = Date.now();
      const text = `${label} ${bar(done, total)} ${detail}`.trimEnd();
      if (tty) process.stderr.write(`\r\x1b[2K${text}`);
      else if (now - last >= interval && text !== lastText) {
        process.stderr.write(`${text}\n`);
        last = now;
      }
      lastText = text;
    },
    done() {
      if (tty && lastText) process.stderr.write('\n');
    },
  };
}

export function bar(done: number, total: number | null, width = 24): string {
  if (total === null || total <= 0) return `${done}`;
  const filled = Math.min(width, Math.round((done / total) * width));
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
}
