import type { ChildProcess } from 'node:child_process';

/**
 * The ffmpeg processes running now. A worker that hands its jobs back at the end of its grace exits
 * with them still running; they must not outlive it (writing files nobody reads, using the cores
 * of the worker that took the jobs over).
 */
const running = new Set<ChildProcess>();
let hooked = false;

/** SIGKILLs `child` if this process exits before it does. */
export function killOnExit(child: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  running.add(child);
  child.once('exit', () => running.delete(child));
}
