/**
 * Pure readers of ffmpeg's stderr after a failed run: which input of a batch broke it, and a short
 * human message. ffmpeg has no machine-readable error channel, so this keys on its stable phrasings
 * (checked against 4.x and 5.1).
 */

export interface InputBlame {
  /** Position of the input on the command line (ffmpeg's input index). */
  index: number;
  /**
   * `open`: ffmpeg could not open or map the input, which no retry fixes. `convert`: processing
   * that input broke the run midway; it deserves a run of its own before it is judged.
   */
  stage: 'open' | 'convert';
  message: string;
}

const MAX_MESSAGE = 200;

/**
 * Names the input that made a whole command fail: during setup (opening inputs, mapping streams),
 * or midway when ffmpeg names the stream it gave up on. Otherwise null once conversion had begun
 * (`Stream mapping:` printed): guessing from warnings could blame, and drop, a good clip.
 */
export function blameInput(stderr: string, inputArgs: readonly string[]): InputBlame | null {
  const midway = /^Error while processing the decoded data for stream #(\d+):\d+/m.exec(stderr);
  if (midway) return { index: Number(midway[1]), stage: 'convert', message: summarizeFailure(stderr, 'ffmpeg failed while converting') };
  if (/^Stream mapping:/m.test(stderr)) return null;
  const lines = stderr.split(/\r?\n/);
  // Longest first, so `file:/a/b.wav` is not mistaken for `file:/a/b.wav.wav`'s prefix owner.
  const byLength = inputArgs.map((arg, index) => ({ arg, index })).sort((a, b) => b.arg.length - a.arg.length);
  // Inputs open one after another, so demuxer complaints since the last `Input #` block are about
  // the input being opened; the most specific one adds detail to ffmpeg's terse final line.
  let context: string[] = [];
  for (const line of lines) {
    if (line.startsWith('Input #')) context = [];
    else if (/^\[[^\]@]+ @ 0x[0-9a-f]+\] /.test(line)) context.push(line);
    for (const { arg, index } of byLength) {
      if (line.startsWith(`${arg}: `)) {
        const detail = lastErrorLine(context.join('\n'));
        const reason = line.slice(arg.length + 2).trim();
        return { index, stage: 'open', message: describeOpenError(detail === null ? reason : `${reason} (${detail})`) };
      }
    }
    // ffmpeg ≥ 6 phrasing: `Error opening input file file:x.wav.`
    const opening = /^Error opening input file (.*)\.$/.exec(line);
    if (opening) {
      const hit = byLength.find(({ arg }) => arg === opening[1]);
      if (hit) return { index: hit.index, stage: 'open', message: describeOpenError(lastErrorLine(stderr) ?? 'could not open input') };
    }
    const map = /^Stream map '(\d+):a:0' matches no streams/.exec(line);
    if (map) return { index: Number(map[1]), stage: 'open', message: 'the file has no audio stream' };
  }
  // Inputs are opened in order and each is described once open, so the first undescribed one failed.
  const described = new Set([...stderr.matchAll(/^Input #(\d+), /gm)].map((m) => Number(m[1])));
  const firstMissing = inputArgs.findIndex((_, index) => !described.has(index));
  if (firstMissing >= 0 && described.size > 0) {
    return { index: firstMissing, stage: 'open', message: describeOpenError(lastErrorLine(stderr) ?? 'could not open input') };
  }
  return null;
}

function describeOpenError(detail: string): string {
  return clip(`ffmpeg could not read the file: ${detail.trim()}`);
}

/**
 * Channel count of an input ffmpeg could not downmix because its layout is unknown (e.g. a 10-channel
 * WAV without a channel mask): ffmpeg 4–5 refuse rather than guess. Null for any other failure.
 */
export function unmixableChannels(stderr: string): number | null {
  const match = /Rematrix is needed between (\d+) channels and mono/.exec(stderr);
  return match ? Number(match[1]) : null;
}

/** Non-null when ffmpeg complained about one of our output paths: our problem (disk, permissions), not the clip's. */
export function outputError(stderr: string, outputArgs: readonly string[]): string | null {
  for (const line of stderr.split(/\r?\n/)) {
    for (const arg of outputArgs) if (line.startsWith(`${arg}: `)) return clip(line);
    if (/^Error opening output file/.test(line)) return clip(line);
  }
  return null;
}

/** A one-line summary of why a (single-input) run failed, for a clip's failure message. */
export function summarizeFailure(stderr: string, fallback: string): string {
  if (/^Stream map '\d+:a:0' matches no streams/m.test(stderr)) return 'the file has no audio stream';
  const line = lastErrorLine(stderr);
  return line === null ? fallback : clip(`ffmpeg failed: ${line}`);
}

// Lines that restate the failure without saying anything about its cause.
const NOISE =
  /^(Conversion failed!|Exiting normally|To ignore this, add a trailing '\?' to the map\.|size=|video:\d|\[… \d+ bytes|(Input|Output) #\d+|Stream mapping:|Guessed Channel Layout)/;

/** The most specific-looking error line: the last one mentioning an error, else the last non-noise one. */
function lastErrorLine(stderr: string): string | null {
  const lines = stderr
    .split(/\r?\n/)
    .filter((line) => !/^\s/.test(line)) // indented lines describe streams, not errors
    .map((line) => line.replace(/^\[([^\]@]+) @ 0x[0-9a-f]+\] /, '[$1] ').trim())
    .filter((line) => line !== '' && !NOISE.test(line));
  const errorish = lines.filter((line) => /error|invalid|failed|not found|no such|unsupported|corrupt|could not|cannot/i.test(line));
  return errorish.at(-1) ?? lines.at(-1) ?? null;
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}
