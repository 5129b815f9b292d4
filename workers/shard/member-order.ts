/**
 * Pure checks of a tar's member sequence against WebDataset's rules: members at the tar root,
 * named `<key>.<ext>` with no dot in the key, a sample's members adjacent, each sample exactly
 * `expectedExts`. Feed names in tar order; `finish()` returns the problems found.
 */
export function memberOrderChecker(expectedExts: readonly string[]) {
  const problems: string[] = [];
  const seen = new Set<string>();
  let current: { key: string; exts: string[] } | null = null;
  let samples = 0;
  const close = () => {
    if (!current) return;
    const exts = [...current.exts].sort();
    if (exts.join(',') !== [...expectedExts].sort().join(',')) problems.push(`sample ${current.key} has members [${current.exts.join(', ')}], expected [${expectedExts.join(', ')}]`);
    samples++;
  };
  return {
    /** Returns the member's key and extension, or null when its name is unusable. */
    add(name: string): { key: string; ext: string } | null {
      if (name.includes('/')) {
        problems.push(`member ${JSON.stringify(name)} is not at the tar root`);
        return null;
      }
      const dot = name.indexOf('.');
      if (dot <= 0) {
        problems.push(`member ${JSON.stringify(name)} has no <key>.<ext> name`);
        return null;
      }
      const key = name.slice(0, dot);
      const ext = name.slice(dot + 1);
      if (current?.key !== key) {
        close();
        if (seen.has(key)) problems.push(`sample ${key} appears again after other samples (members not adjacent, or a duplicate key)`);
        seen.add(key);
        current = { key, exts: [] };
      }
      if (current.exts.includes(ext)) problems.push(`sample ${key} has ${ext} twice`);
      current.exts.push(ext);
      return { key, ext };
    },
    finish(): { samples: number; problems: string[] } {
      close();
      current = null;
      return { samples, problems };
    },
  };
}
