import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bannedNgramTokens, beamSearch, logSoftmax, type BeamSearchOptions, type StepFunction, type StepRow } from '../../workers/caption/beam-search.ts';

// Vocabulary of the hand-written tables: 0 = decoder start/pad, 1 = EOS, 2..4 = A, B, C.
const [START, EOS, A, B, C] = [0, 1, 2, 3, 4] as const;
const VOCAB = 5;

/** Logits = log(p) in float32, as a model would hand them over; unlisted tokens share what is left. */
function distribution(probabilities: Partial<Record<number, number>>): Float32Array {
  const listed = Object.values(probabilities).reduce<number>((sum, p) => sum + (p ?? 0), 0);
  const rest = VOCAB - Object.keys(probabilities).length;
  return Float32Array.from({ length: VOCAB }, (_, token) => Math.log(probabilities[token] ?? (1 - listed) / rest));
}

/** A step function over a table keyed by the prefix after the start token ("" , "A", "A,B", …). */
function tableStep(table: Record<string, Partial<Record<number, number>>>, calls: StepRow[][] = []): StepFunction {
  const names = ['<s>', '</s>', 'A', 'B', 'C'];
  return async (rows) => {
    calls.push(rows.map((row) => ({ source: row.source, tokens: [...row.tokens] })));
    return rows.map((row) => distribution(table[row.tokens.slice(1).map((t) => names[t]).join(',')] ?? {}));
  };
}

/** Independent log-softmax of the float32 logits, for the expected numbers. */
function logProb(probabilities: Partial<Record<number, number>>, token: number): number {
  const logits = Array.from(distribution(probabilities));
  const max = Math.max(...logits);
  return (logits[token] as number) - max - Math.log(logits.reduce((sum, l) => sum + Math.exp(l - max), 0));
}

const BASE: BeamSearchOptions = { numBeams: 2, lengthPenalty: 1, noRepeatNgramSize: 0, earlyStopping: true, maxLength: 4, decoderStartTokenId: START, eosTokenId: EOS };

// After the start token A is likelier, and A ends at once; B is followed by C and then EOS, both likely.
const LP_TABLE = {
  '': { [A]: 0.6, [B]: 0.3, [EOS]: 0.05, [C]: 0.05 },
  A: { [EOS]: 0.5, [A]: 0.1, [B]: 0.2, [C]: 0.2 },
  B: { [C]: 0.9, [EOS]: 0.04, [A]: 0.03, [B]: 0.03 },
  'B,C': { [EOS]: 0.9 },
};

describe('beam search', () => {
  it('scores finished hypotheses as sumLogProbs / length^lengthPenalty, length counting the start token', async () => {
    const sumA = logProb(LP_TABLE[''], A) + logProb(LP_TABLE.A, EOS); // "<s> A" then </s>: length 2
    const sumBC = logProb(LP_TABLE[''], B) + logProb(LP_TABLE.B, C) + logProb(LP_TABLE['B,C'], EOS); // length 3
    for (const lengthPenalty of [0, 1, 1.5]) {
      const [result] = await beamSearch(1, tableStep(LP_TABLE), { ...BASE, lengthPenalty });
      const scoreA = sumA / 2 ** lengthPenalty;
      const scoreBC = sumBC / 3 ** lengthPenalty;
      const expected = scoreA > scoreBC ? { tokens: [A], score: scoreA, sum: sumA } : { tokens: [B, C], score: scoreBC, sum: sumBC };
      assert.deepEqual(result?.tokens, expected.tokens, `lengthPenalty ${lengthPenalty}`);
      assert.ok(Math.abs((result?.score ?? NaN) - expected.score) < 1e-9, `score ${result?.score} vs ${expected.score}`);
      assert.ok(Math.abs((result?.sumLogProbs ?? NaN) - expected.sum) < 1e-9);
      assert.equal(result?.finished, true);
    }
    // The two regimes really differ: no penalty prefers the short "A", keytotext's 1.5 the longer "B C".
    assert.deepEqual((await beamSearch(1, tableStep(LP_TABLE), { ...BASE, lengthPenalty: 0 }))[0]?.tokens, [A]);
    assert.deepEqual((await beamSearch(1, tableStep(LP_TABLE), { ...BASE, lengthPenalty: 1.5 }))[0]?.tokens, [B, C]);
  });

  it('with one beam is greedy: here it ends after A, which the wider beam beats', async () => {
    const [greedy] = await beamSearch(1, tableStep(LP_TABLE), { ...BASE, numBeams: 1, lengthPenalty: 1.5 });
    assert.deepEqual(greedy?.tokens, [A]);
    const sum = logProb(LP_TABLE[''], A) + logProb(LP_TABLE.A, EOS);
    assert.ok(Math.abs((greedy?.score ?? NaN) - sum / 2 ** 1.5) < 1e-9);
  });

  it('admits an EOS only within the top numBeams candidates, as HF does', async () => {
    // Step 2 ranks: A+EOS (hypothesis), B+C (beam), B+EOS (rank 2: must NOT become a hypothesis),
    // A+C (beam). Admitting B+EOS would make two hypotheses and stop the search early with "A";
    // HF's rule keeps going, and step 3 finishes "B C", which scores better.
    const table = {
      '': { [A]: 0.5, [B]: 0.45, [EOS]: 0.02, [C]: 0.03 },
      A: { [EOS]: 0.6, [C]: 0.2, [A]: 0.1, [B]: 0.1 },
      B: { [C]: 0.5, [EOS]: 0.35, [A]: 0.1, [B]: 0.05 },
      'B,C': { [EOS]: 0.9 },
    };
    const calls: StepRow[][] = [];
    const [result] = await beamSearch(1, tableStep(table, calls), { ...BASE, maxLength: 4, lengthPenalty: 1 });
    assert.equal(calls.length, 3);
    const sumBC = logProb(table[''], B) + logProb(table.B, C) + logProb(table['B,C'], EOS);
    assert.deepEqual(result?.tokens, [B, C]);
    assert.ok(Math.abs((result?.score ?? NaN) - sumBC / 3) < 1e-9);
  });

  it('lets a negative length penalty favour the empty hypothesis once it is admitted', async () => {
    const table = { '': { [A]: 0.4, [B]: 0.38, [EOS]: 0.2, [C]: 0.01 } };
    // Three beams: the EOS ranked third is within numBeams, and with penalty −1 the empty sentence
    // (log .2 = −1.61 · 1) beats A (log .4 · 2 = −1.83), which is still live at maxLength.
    const [result] = await beamSearch(1, tableStep(table), { ...BASE, numBeams: 3, maxLength: 2, lengthPenalty: -1 });
    assert.deepEqual(result?.tokens, []);
    assert.equal(result?.finished, true);
    assert.ok(Math.abs((result?.score ?? NaN) - logProb(table[''], EOS)) < 1e-9);
  });

  it('bans n-gram repeats after the softmax, without renormalising', async () => {
    // A and B call each other; C then EOS is the way out.
    const cycle = (next: number) => ({ [next]: 0.7, [C]: 0.15, [EOS]: 0.1, [next === A ? B : A]: 0.03, [START]: 0.02 });
    const step: StepFunction = async (rows) =>
      rows.map((row) => {
        const last = row.tokens[row.tokens.length - 1];
        return distribution(last === C ? { [EOS]: 0.8 } : cycle(last === A ? B : A));
      });
    const [free] = await beamSearch(1, step, { ...BASE, numBeams: 1, maxLength: 10 });
    assert.deepEqual(free?.tokens, [A, B, A, B, A, B, A, B, A]);
    assert.equal(free?.finished, false);

    const [banned] = await beamSearch(1, step, { ...BASE, numBeams: 1, maxLength: 10, noRepeatNgramSize: 3 });
    assert.deepEqual(banned?.tokens, [A, B, A, B, C]);
    const expected = 4 * logProb(cycle(A), A) + logProb(cycle(A), C) + logProb({ [EOS]: 0.8 }, EOS);
    assert.ok(Math.abs((banned?.sumLogProbs ?? NaN) - expected) < 1e-9, `${banned?.sumLogProbs} vs ${expected}`);
    assert.equal(banned?.finished, true);
  });

  it('adds live beams at maxLength, unfinished, scored by their full length', async () => {
    const table = { '': { [A]: 0.9 }, A: { [B]: 0.9 }, 'A,B': { [C]: 0.9 } };
    const [result] = await beamSearch(1, tableStep(table), { ...BASE, numBeams: 1, maxLength: 3, lengthPenalty: 1 });
    assert.deepEqual(result?.tokens, [A, B]);
    assert.equal(result?.finished, false);
    const sum = logProb(table[''], A) + logProb(table.A, B);
    assert.ok(Math.abs((result?.score ?? NaN) - sum / 3) < 1e-9);
  });

  it('steps prefixes of one length, each extending a row of the previous call (what the cache relies on)', async () => {
    const calls: StepRow[][] = [];
    await beamSearch(2, tableStep(LP_TABLE, calls), { ...BASE, numBeams: 3, maxLength: 6, lengthPenalty: 1.5 });
    assert.ok(calls.length >= 2);
    calls.forEach((rows, index) => {
      assert.ok(rows.every((row) => row.tokens.length === index + 1 && row.tokens[0] === START));
      if (index === 0) return;
      const previous = new Set((calls[index - 1] as StepRow[]).map((row) => `${row.source}:${row.tokens.join(',')}`));
      for (const row of rows) assert.ok(previous.has(`${row.source}:${row.tokens.slice(0, -1).join(',')}`));
    });
  });

  it('gives every source of a batch what it gets alone', async () => {
    const random = seeded(11);
    const tables = [0, 1, 2].map(() => new Map<string, Float32Array>());
    const step: StepFunction = async (rows) =>
      rows.map((row) => {
        const table = tables[row.source] as Map<string, Float32Array>;
        const key = row.tokens.join(',');
        if (!table.has(key)) table.set(key, Float32Array.from({ length: 12 }, () => random() * 4));
        return table.get(key) as Float32Array;
      });
    const options = { ...BASE, numBeams: 3, maxLength: 8, lengthPenalty: 1.5, noRepeatNgramSize: 2 };
    const together = await beamSearch(3, step, options);
    for (let source = 0; source < 3; source++) {
      const alone = await beamSearch(1, async (rows) => step(rows.map((row) => ({ ...row, source }))), options);
      assert.deepEqual(together[source], alone[0]);
    }
  });

  it('rejects nonsense options', async () => {
    const step = tableStep({});
    await assert.rejects(beamSearch(1, step, { ...BASE, numBeams: 0 }), /numBeams/);
    await assert.rejects(beamSearch(1, step, { ...BASE, maxLength: 1 }), /maxLength/);
    await assert.rejects(beamSearch(1, async () => [], BASE), /1 prefixes/);
  });
});

describe('num_beams = 1 equals greedy decoding', () => {
  /** Plain greedy with HF's n-gram rule: argmax (first on ties) until EOS or maxLength. */
  function greedy(logitsFor: (tokens: number[]) => Float32Array, maxLength: number, ngram: number): number[] {
    const tokens: number[] = [START];
    while (tokens.length < maxLength) {
      const logits = Float32Array.from(logitsFor(tokens));
      for (const token of bannedNgramTokens(tokens, ngram)) logits[token] = -Infinity;
      let best = 0;
      for (let t = 1; t < logits.length; t++) if ((logits[t] as number) > (logits[best] as number)) best = t;
      if (best === EOS) break;
      tokens.push(best);
    }
    return tokens.slice(1);
  }

  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`on random logits, seed ${seed}`, async () => {
      const random = seeded(seed);
      const table = new Map<string, Float32Array>();
      const logitsFor = (tokens: readonly number[]) => {
        const key = tokens.join(',');
        if (!table.has(key)) table.set(key, Float32Array.from({ length: 9 }, (_, t) => random() * 3 + (t === EOS ? tokens.length * 0.3 : 0)));
        return table.get(key) as Float32Array;
      };
      for (const ngram of [0, 2, 3]) {
        const [beam] = await beamSearch(1, async (rows) => rows.map((row) => logitsFor(row.tokens)), { ...BASE, numBeams: 1, maxLength: 12, noRepeatNgramSize: ngram, lengthPenalty: 1.5 });
        assert.deepEqual(beam?.tokens, greedy(logitsFor, 12, ngram), `n-gram ${ngram}`);
      }
    });
  }
});

describe('beam search helpers', () => {
  it('bannedNgramTokens follows HF: the last n-1 tokens looked up among earlier n-grams', () => {
    assert.deepEqual(bannedNgramTokens([0, A, B, A, B], 3), [A]);
    assert.deepEqual(bannedNgramTokens([0, A, B, A], 3), []);
    assert.deepEqual(bannedNgramTokens([0, A, B, C, A, B], 3).sort(), [C]);
    assert.deepEqual(bannedNgramTokens([0, A, A], 2), [A]);
    assert.deepEqual(bannedNgramTokens([0], 3), []);
    assert.deepEqual(bannedNgramTokens([0, A, B, A, B], 0), []);
    assert.deepEqual(bannedNgramTokens([0, A, A, B], 1).sort(), [0, A, B]);
  });

  it('logSoftmax sums to one and is shift-invariant', () => {
    const values = logSoftmax(Float32Array.from([1000, 1001, 999]));
    assert.ok(Math.abs(values.reduce((sum, v) => sum + Math.exp(v), 0) - 1) < 1e-12);
    const shifted = logSoftmax(Float32Array.from([0, 1, -1]));
    values.forEach((v, i) => assert.ok(Math.abs(v - (shifted[i] as number)) < 1e-12));
  });
});

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}
