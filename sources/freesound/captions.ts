/**
 * LAION's Freesound captions (preprocess_freesound.py): caption 1 is the title without its extension,
 * underscores as spaces, plus "."; caption 2 is the first sentence of the description plus ".",
 * dropped when it contains `<` or `>` (HTML). Two deliberate repairs of LAION's script, which the
 * brief's rule also states: its `_` → space was a no-op (the result was never assigned), and its
 * `splitext` treated anything after the last dot as an extension ("Mr. Smith" → "Mr"); and its
 * sentence split on every "." cut "3.5 kHz" in half — here a sentence ends at . ! or ? followed by
 * white space or the end.
 */

/** Collapses white space (descriptions carry \r\n and tabs) and trims. */
function tidy(text: string): string {
  return text.normalize('NFC').replace(/\s+/g, ' ').trim();
}

function withFullStop(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

/** `Door_Slam_01.wav` → `Door Slam 01.`; `bird.song.final.mp3` → `bird.song.final.` */
export function titleCaption(name: string): string | null {
  const stem = name.replace(/\.[A-Za-z0-9]{1,5}$/, '');
  const text = tidy(stem.replace(/_/g, ' '));
  return text === '' ? null : withFullStop(text);
}

/** The first sentence of a description, or null when there is none or it holds HTML. */
export function descriptionCaption(description: string | null | undefined): string | null {
  if (!description) return null;
  const text = tidy(description);
  const end = /[.!?](?=\s|$)/.exec(text);
  const sentence = (end ? text.slice(0, end.index + 1) : text).trim();
  if (sentence === '' || /[<>]/.test(sentence)) return null;
  // LAION ended every caption with "."; keep a sentence's own "!" or "?".
  const bare = sentence.replace(/\.$/, '').trim();
  return bare === '' ? null : withFullStop(bare);
}

export function freesoundCaptions(name: string, description: string | null | undefined): string[] {
  return [titleCaption(name), descriptionCaption(description)].filter((c): c is string => c !== null);
}
