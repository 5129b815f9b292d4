import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chmod, copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { Config } from '../../schemas/config.ts';

export interface LocateOptions {
  /** Where PATH (and FFMPEG_PATH, when no config is given) come from. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /** Path of the @ffmpeg-installer binary, or null; injectable for tests. */
  installerPath?: () => string | null;
  /** Where a non-executable installer binary is copied when we may not chmod it in place. */
  cacheDir?: string;
  /** Skip the per-process cache (tests). */
  noCache?: boolean;
}

const cache = new Map<string, Promise<string>>();
const PROBE_TIMEOUT_MS = 15_000;

export const NO_FFMPEG_HELP =
  'Install one (Debian/Ubuntu: `apt-get install ffmpeg`; macOS: `brew install ffmpeg`) ' +
  'or set FFMPEG_PATH to an ffmpeg executable.';

/**
 * Finds a working ffmpeg: FFMPEG_PATH (config.ffmpegPath) if set — and then only that, since an
 * explicit choice silently replaced by another binary would be worse than an error — else `ffmpeg`
 * on PATH, else the optional @ffmpeg-installer binary. Each candidate must run `-version`.
 * The answer is cached per process (per FFMPEG_PATH/PATH pair); failures are not cached.
 */
export function locateFfmpeg(config?: Pick<Config, 'ffmpegPath'>, options: LocateOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const explicit = config ? config.ffmpegPath : env.FFMPEG_PATH || undefined;
  if (options.noCache) return locate(explicit, env, options);
  const key = `${explicit ?? ''}\0${env.PATH ?? ''}`;
  let found = cache.get(key);
  if (!found) {
    found = locate(explicit, env, options);
    cache.set(key, found);
    found.catch(() => cache.delete(key));
  }
  return found;
}

/** Forgets cached answers (tests, or after the operator installed ffmpeg). */
export function clearFfmpegCache(): void {
  cache.clear();
}

async function locate(explicit: string | undefined, env: NodeJS.ProcessEnv, options: LocateOptions): Promise<string> {
  if (explicit !== undefined) {
    const path = resolve(explicit);
    const problem = await whyNotFfmpeg(path);
    if (problem !== null) {
      throw new Error(`FFMPEG_PATH is set to ${JSON.stringify(explicit)}, but it ${problem}. Point FFMPEG_PATH at a working ffmpeg executable, or unset it to search PATH.`);
    }
    return path;
  }

  const tried: string[] = [];
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue; // a relative PATH entry would depend on the cwd
    const candidate = join(dir, 'ffmpeg');
    if (!(await isExecutableFile(candidate))) continue;
    const problem = await whyNotFfmpeg(candidate);
    if (problem === null) return candidate;
    tried.push(`${candidate} ${problem}`);
  }

  const installed = (options.installerPath ?? installerBinary)();
  if (installed !== null) {
    try {
      const runnable = await ensureExecutable(installed, options.cacheDir ?? defaultCacheDir(env));
      const problem = await whyNotFfmpeg(runnable);
      if (problem === null) return runnable;
      tried.push(`${runnable} (@ffmpeg-installer) ${problem}`);
    } catch (error) {
      tried.push(`${installed} (@ffmpeg-installer) could not be made executable: ${(error as Error).message}`);
    }
  }

  const detail = tried.length > 0 ? ` Tried: ${tried.join('; ')}.` : '';
  throw new Error(`No working ffmpeg found: FFMPEG_PATH is not set, there is no usable \`ffmpeg\` on PATH, and the optional @ffmpeg-installer/ffmpeg binary is unavailable.${detail} ${NO_FFMPEG_HELP}`);
}

/** Null if `path` runs as ffmpeg, else a short phrase saying why not. */
async function whyNotFfmpeg(path: string): Promise<string | null> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return 'is not a file';
  } catch {
    return 'does not exist';
  }
  if (!(await isExecutableFile(path))) return 'is not executable';
  return new Promise((done) => {
    execFile(path, ['-hide_banner', '-version'], { timeout: PROBE_TIMEOUT_MS, maxBuffer: 1024 * 1024 }, (error, stdout) => {
      if (error) done(`did not run (${error.message.split('\n')[0]})`);
      else if (!/^ffmpeg version /.test(stdout)) done('does not look like ffmpeg (`-version` did not print "ffmpeg version")');
      else done(null);
    });
  });
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function installerBinary(): string | null {
  try {
    // Optional dependency; its index.js throws (a string) when the platform package is absent.
    const installer = createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path?: unknown };
    return typeof installer.path === 'string' ? installer.path : null;
  } catch {
    return null;
  }
}

/**
 * npm 11 does not run @ffmpeg-installer's postinstall `chmod u+x`, so its binary may lack the
 * execute bit. Fix it in place if we own it; otherwise use an executable copy in `cacheDir`.
 */
export async function ensureExecutable(path: string, cacheDir: string, options: { chmodInPlace?: boolean } = {}): Promise<string> {
  if (await isExecutableFile(path)) return path;
  const info = await stat(path);
  if (options.chmodInPlace ?? true) {
    try {
      await chmod(path, info.mode | 0o100);
      // Still not executable on a noexec mount, where access(X_OK) keeps failing.
      if (await isExecutableFile(path)) return path;
    } catch {
      // Not ours (EPERM) or read-only (EROFS): fall through to a private copy.
    }
  }
  const copy = join(cacheDir, `ffmpeg-${info.size}-${Math.trunc(info.mtimeMs)}`);
  if (await isExecutableFile(copy)) return copy;
  await mkdir(cacheDir, { recursive: true });
  const partial = `${copy}.${process.pid}.partial`;
  try {
    await copyFile(path, partial);
    await chmod(partial, 0o755);
    await rename(partial, copy); // atomic: a concurrent worker never runs a half-copied binary
  } finally {
    await rm(partial, { force: true });
  }
  return copy;
}

function defaultCacheDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : join(tmpdir(), `clapset-${process.getuid?.() ?? 'user'}`));
  return join(base, 'clapset');
}
