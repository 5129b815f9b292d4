/**
 * Beam search for encoder–decoder generation, as Hugging Face transformers' BeamSearchScorer does it
 * (the code path keytotext used: num_beams 4, length_penalty 1.5, no_repeat_ngram_size 3,
 * early_stopping). transformers.js' generate() is greedy only, so the search lives here, apart from
 * the model: `step` is injected and returns next-token logits for a list of decoder prefixes, which
 * keeps this module pure and testable with a hand-written logits table.
 *
 * The rules, matching HF (4.x BeamSearchScorer / BeamHypotheses):
 *  - scores are cumulative log-softmax probabilities; banned n-gram completions become -Infinity
 *    after the softmax (not renormalised);
 *  - each step ranks the top 2·numBeams (beam, token) candidates; an EOS candidate within the top
 *    numBeams ranks finishes a hypothesis, the first numBeams non-EOS candidates are the next beams;
 *  - a finished hypothesis scores sumLogProbs / length^lengthPenalty, where length counts the decoder
 *    start token and the generated tokens but not the EOS;
 *  - with earlyStopping a source is done once numBeams hypotheses have finished; without it, once the
 *    best live candidate (sumLogProbs / curLen^lengthPenalty) cannot beat the worst finished one;
 *  - at maxLength (decoder tokens including the start token) live beams join the finished ones.
 * Ties are broken by beam order, then token id (HF leaves them to torch.topk).
 */

export interface BeamSearchOptions {
  numBeams: number;
  lengthPenalty: number;
  /** 0 disables the rule. */
  noRepeatNgramSize: number;
  earlyStopping: boolean;
  /** Decoder sequence length cap including the start token (HF's max_length). */
  maxLength: number;
  decoderStartTokenId: number;
  eosTokenId: number;
}

/** One decoder prefix to score: which source sequence (encoder row) it belongs to, and its tokens. */
export interface StepRow {
  source: number;
  /** Starts with the decoder start token. */
  tokens: readonly number[];
}

/**
 * Returns next-token logits (vocabulary-sized) for each row, in row order. Every call passes rows of
 * one prefix length, each extending a row of the previous call (or the start token), which lets an
 * implementation keep a key/value cache keyed by prefix.
 */
export type StepFunction = (rows: readonly StepRow[]) => Promise<readonly Float32Array[]>;

export interface GeneratedSequence {
  /** Generated token ids, without the start token and the EOS. */
  tokens: number[];
  /** Length-penalised score (what the search maximised). */
  score: number;
  sumLogProbs: number;
  /** False when it was cut at maxLength instead of ending with EOS. */
  finished: boolean;
}

interface Beam {
  tokens: number[];
  sumLogProbs: number;
}

interface Candidate {
  beam: number;
  token: number;
  sumLogProbs: number;
}

/** Finished hypotheses of one source, at most numBeams, with HF's worst-score bookkeeping. */
class Hypotheses {
  readonly entries: { tokens: number[]; score: number; sumLogProbs: number; finished: boolean }[] = [];
  private worst = Infinity;

  constructor(private readonly options: BeamSearchOptions) {}

  add(tokens: number[], sumLogProbs: number, finished: boolean): void {
    const score = sumLogProbs / tokens.length ** this.options.lengthPenalty;
    if (this.entries.length < this.options.numBeams || score > this.worst) {
      this.entries.push({ tokens, score, sumLogProbs, finished });
      if (this.entries.length > this.options.numBeams) {
        const order = this.entries.map((entry, index) => ({ score: entry.score, index })).sort((a, b) => a.score - b.score || a.index - b.index);
        this.entries.splice((order[0] as { index: number }).index, 1);
        this.worst = (order[1] as { score: number }).score;
      } else {
        this.worst = Math.min(score, this.worst);
      }
    }
  }

  isDone(bestSumLogProbs: number, curLen: number): boolean {
    if (this.entries.length < this.options.numBeams) return false;
    if (this.options.earlyStopping) return true;
    return this.worst >= bestSumLogProbs / curLen ** this.options.lengthPenalty;
  }

  best(): GeneratedSequence {
    let best = this.entries[0];
    for (const entry of this.entries) if (best === undefined || entry.score > best.score) best = entry;
    // Only when every token was banned at the first step: nothing could be generated.
    if (best === undefined) return { tokens: [], score: -Infinity, sumLogProbs: -Infinity, finished: false };
    return { tokens: best.tokens.slice(1), score: best.score, sumLogProbs: best.sumLogProbs, finished: best.finished };
  }
}

export function validateBeamSearchOptions(options: BeamSearchOptions): void {
  const { numBeams, maxLength, noRepeatNgramSize, lengthPenalty } = options;
  if (!Number.isInteger(numBeams) || numBeams < 1) throw new RangeError(`numBeams must be an integer ≥ 1, got ${numBeams}`);
  if (!Number.isInteger(maxLength) || maxLength < 2) throw new RangeError(`maxLength must be an integer ≥ 2 (start token + one), got ${maxLength}`);
  if (!Number.isInteger(noRepeatNgramSize) || noRepeatNgramSize < 0) throw new RangeError(`noRepeatNgramSize must be an integer ≥ 0, got ${noRepeatNgramSize}`);
  if (!Number.isFinite(lengthPenalty)) throw new RangeError(`lengthPenalty must be finite, got ${lengthPenalty}`);
}

/**
 * Generates one sequence per source. Sources advance in lockstep, so each `step` call batches every
 * live beam of every unfinished source.
 */
export async function beamSearch(sourceCount: number, step: StepFunction, options: BeamSearchOptions): Promise<GeneratedSequence[]> {
  validateBeamSearchOptions(options);
  const hypotheses = Array.from({ length: sourceCount }, () => new Hypotheses(options));
  // One live beam to start with (HF's copies scored -1e9 only matter for vocabularies < 2·numBeams).
  const beams: Beam[][] = Array.from({ length: sourceCount }, () => [{ tokens: [options.decoderStartTokenId], sumLogProbs: 0 }]);
  const done = new Array<boolean>(sourceCount).fill(false);

  for (let curLen = 1; curLen < options.maxLength && done.includes(false); curLen++) {
    const rows: StepRow[] = [];
    for (let source = 0; source < sourceCount; source++) {
      if (!done[source]) for (const beam of beams[source] as Beam[]) rows.push({ source, tokens: beam.tokens });
    }
    const logits = await step(rows);
    if (logits.length !== rows.length) throw new Error(`step returned ${logits.length} logit rows for ${rows.length} prefixes`);
    let row = 0;
    for (let source = 0; source < sourceCount; source++) {
      if (done[source]) continue;
      const live = beams[source] as Beam[];
      const candidates = topCandidates(live, logits.slice(row, row + live.length), 2 * options.numBeams, options.noRepeatNgramSize);
      row += live.length;
      const next: Beam[] = [];
      const hyps = hypotheses[source] as Hypotheses;
      for (const [rank, candidate] of candidates.entries()) {
        const parent = live[candidate.beam] as Beam;
        if (candidate.token === options.eosTokenId) {
          if (rank < options.numBeams) hyps.add(parent.tokens, candidate.sumLogProbs, true);
        } else {
          next.push({ tokens: [...parent.tokens, candidate.token], sumLogProbs: candidate.sumLogProbs });
        }
        if (next.length === options.numBeams) break;
      }
      beams[source] = next;
      const best = candidates[0]?.sumLogProbs ?? -Infinity;
      done[source] = next.length === 0 || hyps.isDone(best, curLen);
    }
  }
  return hypotheses.map((hyps, source) => {
    if (!done[source]) for (const beam of beams[source] as Beam[]) hyps.add(beam.tokens, beam.sumLogProbs, false);
    return hyps.best();
  });
}

/** The top `k` (beam, token) extensions by cumulative log-probability; -Infinity ones never qualify. */
function topCandidates(beams: readonly Beam[], logits: readonly Float32Array[], k: number, ngramSize: number): Candidate[] {
  const top: Candidate[] = [];
  beams.forEach((beam, index) => {
    const logProbs = logSoftmax(logits[index] as Float32Array);
    for (const token of bannedNgramTokens(beam.tokens, ngramSize)) logProbs[token] = -Infinity;
    for (let token = 0; token < logProbs.length; token++) {
      const sumLogProbs = beam.sumLogProbs + (logProbs[token] as number);
      if (sumLogProbs === -Infinity) continue;
      if (top.length === k && sumLogProbs <= (top[k - 1] as Candidate).sumLogProbs) continue;
      // Insertion keeps earlier (beam, token) pairs ahead on ties: a stable order.
      let at = top.length;
      while (at > 0 && (top[at - 1] as Candidate).sumLogProbs < sumLogProbs) at--;
      top.splice(at, 0, { beam: index, token, sumLogProbs });
      if (top.length > k) top.pop();
    }
  });
  return top;
}

/** log(softmax(x)), computed in float64 for stability; a fresh array. */
export function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const value of logits) if (value > max) max = value;
  let sum = 0;
  for (const value of logits) sum += Math.exp(value - max);
  const logSum = max + Math.log(sum);
  return Float64Array.from(logits, (value) => value - logSum);
}

/**
 * Tokens that would repeat an n-gram already in `tokens` (HF's NoRepeatNGramLogitsProcessor): the
 * last n-1 tokens are looked up among earlier n-gram prefixes. The start token counts, as in HF.
 */
export function bannedNgramTokens(tokens: readonly number[], n: number): number[] {
  if (n <= 0 || tokens.length + 1 < n) return [];
  if (n === 1) return [...new Set(tokens)];
  const tail = tokens.slice(tokens.length - (n - 1)).join(',');
  const banned = new Set<number>();
  for (let start = 0; start + n <= tokens.length; start++) {
    if (tokens.slice(start, start + n - 1).join(',') === tail) banned.add(tokens[start + n - 1] as number);
  }
  return [...banned];
}
