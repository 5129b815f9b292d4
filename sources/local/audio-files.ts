/** Extensions ffmpeg decodes that appear in sound-effect collections (lower case, no dot). */
export const AUDIO_EXTENSIONS: ReadonlySet<string> = new Set([
  'wav', 'wave', 'aif', 'aiff', 'aifc', 'flac', 'mp3', 'ogg', 'oga', 'opus',
  'm4a', 'mp4', 'aac', 'wma', 'webm', 'caf', 'w64',
]);

/**
 * Path segments never walked into or listed: hidden files and folders (including macOS `._x.wav`
 * AppleDouble files, which carry a real audio extension but no audio) and the `__MACOSX/` resource
 * fork folder that Finder adds to zips.
 */
export function isSkippedName(segment: string): boolean {
  return segment.startsWith('.') || segment === '__MACOSX';
}

/** Whether a file name has an audio extension (case-insensitive). */
export function hasAudioExtension(fileName: string): boolean {
  const dot = fileName.lastIndexOf('.');
  return dot > 0 && AUDIO_EXTENSIONS.has(fileName.slice(dot + 1).toLowerCase());
}

/**
 * Whether a relative POSIX path names an audio file that a listing should yield. `.`/`..` segments
 * are not "hidden": a hostile `../x.wav` is listed, so that it is counted as refused, not lost.
 */
export function isAudioPath(relPath: string): boolean {
  const segments = relPath.split('/').filter((s) => s !== '' && s !== '.' && s !== '..');
  const name = segments.at(-1);
  return name !== undefined && !segments.some(isSkippedName) && hasAudioExtension(name);
}
