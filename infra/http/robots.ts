/**
 * `X-Robots-Tag` opt-out directives relevant to an audio dataset builder.
 *
 * `noai` and `noml` ask that the content not be used to train AI / ML models: honoured. `noimageai`
 * is scoped to images by its definition (the "image" in its name is the whole point of having it
 * beside `noai`), so for audio it is recorded but does not exclude. A directive may be scoped to a
 * user agent (`otherbot: noai`); only unscoped directives and those naming `clapset` (or `*`) apply.
 */

export const EXCLUDING_DIRECTIVES = ['noai', 'noml'] as const;

export interface RobotsVerdict {
  /** Directives that apply to us, lower-cased. */
  directives: string[];
  /** True when one of them excludes the content from an ML dataset. */
  excluded: boolean;
}

export function parseRobotsTag(header: string | string[] | undefined, agent = 'clapset'): RobotsVerdict {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const directives: string[] = [];
  for (const value of values) {
    // "googlebot: noindex, nofollow" scopes every directive after it; a bare list is for everyone.
    let scope: string | null = null;
    for (const part of value.split(',')) {
      let item = part.trim().toLowerCase();
      const scoped = /^([a-z0-9_.*-]+)\s*:\s*(.*)$/.exec(item);
      // "unavailable_after: <date>" is a directive with a value, not a user-agent scope.
      if (scoped && scoped[1] !== 'unavailable_after' && scoped[1] !== 'max-snippet' && scoped[1] !== 'max-image-preview' && scoped[1] !== 'max-video-preview') {
        scope = scoped[1]!;
        item = scoped[2]!.trim();
      }
      if (item === '') continue;
      if (scope === null || scope === '*' || scope === agent.toLowerCase()) directives.push(item);
    }
  }
  return { directives, excluded: directives.some((d) => (EXCLUDING_DIRECTIVES as readonly string[]).includes(d)) };
}
