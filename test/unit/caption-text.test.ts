import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { applyCaptions, captionClips, planCaptions } from '../../workers/caption/caption-clips.ts';
import { createCaptioner } from '../../workers/caption/captioner.ts';
import { debiasCaption } from '../../workers/caption/debias.ts';
import { cleanKeywords, keytotextInputs } from '../../workers/caption/keywords.ts';
import { createTemplateCaptioner, templateCaption } from '../../workers/caption/template-captioner.ts';
import type { Captioner, CaptionProvenance } from '../../workers/caption/captioner-types.ts';

describe('debiasCaption', () => {
  it('replaces the four words, whole words only, keeping case', () => {
    assert.equal(debiasCaption('a man walks his dog while a woman calls her cat'), 'a person walks their dog while a person calls their cat');
    assert.equal(debiasCaption('Man talking. Woman laughs. His voice, Her voice.'), 'Person talking. Person laughs. Their voice, Their voice.');
    assert.equal(debiasCaption('MAN and WOMAN'), 'PERSON and PERSON');
    assert.equal(debiasCaption('the woman\'s bag; man-made noise'), 'the person\'s bag; person-made noise');
  });

  it('leaves words that merely contain them', () => {
    const untouched = 'a human in a manner hers history, mankind, woman_kind, herb, manhole, Hermann, mané';
    assert.equal(debiasCaption(untouched), untouched);
  });
});

describe('cleanKeywords', () => {
  it('drops empty, symbol-only, over-long and case-insensitive duplicate tags, keeping order and first spelling', () => {
    const tags = ['Dog', ' bark ', '', '   ', 'dog', 'DOG', '--', 'field_recording', 'a'.repeat(41), 'night\u0000 rain', 'Bark', 'ﬁeld'];
    assert.deepEqual(cleanKeywords(tags), ['Dog', 'bark', 'field recording', 'night rain', 'field']);
  });

  it('honours the length and count limits', () => {
    assert.deepEqual(cleanKeywords(['abcdef', 'abc', 'ab'], { maxKeywordLength: 3 }), ['abc', 'ab']);
    assert.deepEqual(cleanKeywords(['a', 'b', 'a', 'c', 'd'], { maxKeywords: 3 }), ['a', 'b', 'c']);
    assert.equal(cleanKeywords(['a'.repeat(40)]).length, 1);
  });

  it("builds the T5 inputs exactly as keytotext's NMPipeline does (checked against its Python code)", () => {
    const lists = [
      ['dog', 'bark', 'night rain'],
      // LAION's Epidemic data card example: "p.a." splits the input in three.
      ['Crowds', 'applause', 'wrestling crowd', 'mezzanine level', 'huge crowd', 'p.a.', 'loop'],
      ["it's", 'say "hi"', 'back\\slash', 'both \' and "', 'a, b', '[x]', 'end.'],
      ['日本語', 'café'],
    ];
    // keytotext/models.py NMPipeline._prepare_inputs_for_nm and the "{} </s>" of __call__, verbatim.
    const reference = `
import json, sys
def prep(keywords):
    text = str(keywords)
    text = text.replace(",", " ")
    text = text.replace("'", "")
    text = text.replace("[", "")
    text = text.replace("]", "")
    return ["{} </s>".format(t) for t in text.split(".")]
print(json.dumps([prep(k) for k in json.load(sys.stdin)]))
`;
    const expected = JSON.parse(execFileSync('python3', ['-c', reference], { input: JSON.stringify(lists), encoding: 'utf8' })) as string[][];
    assert.deepEqual(lists.map(keytotextInputs), expected);
    assert.deepEqual(keytotextInputs(['dog', 'bark']), ['dog  bark </s>']);
    assert.equal(keytotextInputs(lists[1]!).length, 3);
  });
});

describe('template captioner', () => {
  it("writes LAION's \"the sounds of a, b, and c.\"", () => {
    assert.equal(templateCaption(['dog']), 'the sounds of dog.');
    assert.equal(templateCaption(['dog', 'bark']), 'the sounds of dog, and bark.');
    assert.equal(templateCaption(['dog', 'bark', 'night']), 'the sounds of dog, bark, and night.');
    assert.throws(() => templateCaption([]), /at least one keyword/);
  });

  it('is labelled as a template in provenance and de-biases', async () => {
    const captioner = createTemplateCaptioner();
    assert.equal(captioner.id, 'template');
    assert.equal(captioner.provenance.captioner, 'template');
    assert.equal(captioner.provenance.model, null);
    assert.equal(captioner.provenance.generation, null);
    assert.deepEqual(await captioner.caption([['man', 'footsteps'], ['rain']]), ['the sounds of person, and footsteps.', 'the sounds of rain.']);
    assert.deepEqual(await createTemplateCaptioner({ debias: false }).caption([['man']]), ['the sounds of man.']);
  });

  it('is what the factory builds when no model is configured', async () => {
    const captioner = await createCaptioner({ env: {} });
    assert.equal(captioner.provenance.captioner, 'template');
    const blank = await createCaptioner({ env: { CLAPSET_CAPTION_MODEL: '  ' } });
    assert.equal(blank.id, 'template');
    await assert.rejects(createCaptioner({ env: { CLAPSET_CAPTION_MODEL: '/nonexistent/model-dir' } }), /does not exist/);
    await assert.rejects(createCaptioner({ model: 'owner/absent', env: { CLAPSET_MODELS_DIR: '/nonexistent-root' } }), /models pull owner\/absent/);
  });
});

describe('caption stage rules', () => {
  const clips = [
    { text: ['a dog'], tags: ['dog', 'bark'], duration: 5 },
    { text: ['short'], tags: ['click'], duration: 1.99 },
    { text: ['exactly two'], tags: ['bell'], duration: 2 },
    { text: ['no tags'], tags: ['', '  ', '!!'], duration: 30 },
    { text: ['nan'], tags: ['x'], duration: Number.NaN },
  ];

  it('skips clips under 2 s and clips without usable keywords', () => {
    assert.deepEqual(planCaptions(clips), [
      { keywords: ['dog', 'bark'] },
      { skipped: 'too_short' },
      { keywords: ['bell'] },
      { skipped: 'no_keywords' },
      { skipped: 'too_short' },
    ]);
    assert.deepEqual(planCaptions(clips, { minDurationSec: 0 })[1], { keywords: ['click'] });
  });

  it('captions only the planned clips, in one captioner call, results in clip order', async () => {
    const seen: string[][][] = [];
    const recording: Captioner = {
      id: 'recording',
      provenance: createTemplateCaptioner().provenance,
      caption: async (lists) => {
        seen.push(lists.map((list) => [...list]));
        return lists.map((list) => (list[0] === 'bell' ? '  ' : `caption of ${list.join('+')}`));
      },
      close: async () => {},
    };
    const outcomes = await captionClips(recording, clips);
    assert.deepEqual(seen, [[['dog', 'bark'], ['bell']]]);
    assert.deepEqual(outcomes, [
      { status: 'captioned', caption: 'caption of dog+bark', keywords: ['dog', 'bark'] },
      { status: 'skipped', reason: 'too_short' },
      { status: 'skipped', reason: 'empty_caption' },
      { status: 'skipped', reason: 'no_keywords' },
      { status: 'skipped', reason: 'too_short' },
    ]);
    assert.deepEqual(await captionClips(recording, [clips[1] as (typeof clips)[number]]), [{ status: 'skipped', reason: 'too_short' }]);
    assert.equal(seen.length, 1, 'no captioner call when every clip is skipped');
  });

  it('applyCaptions sets text_augment_t5 / text_augment_all and provenance without touching the rest', () => {
    const provenance: CaptionProvenance = createTemplateCaptioner().provenance;
    const sample = { key: 'demo-1', text: ['a dog barks', 'dog'], tag: ['dog'], duration: 5 };
    const captioned = applyCaptions(sample, { status: 'captioned', caption: 'the sounds of dog.', keywords: ['dog'] }, provenance);
    assert.deepEqual(captioned.text_augment_t5, ['the sounds of dog.']);
    assert.deepEqual(captioned.text_augment_all, ['a dog barks', 'dog', 'the sounds of dog.']);
    assert.equal(captioned.caption_provenance.captioner, 'template');
    assert.equal(captioned.caption_provenance.status, 'captioned');
    assert.deepEqual({ ...captioned, text_augment_t5: undefined, text_augment_all: undefined, caption_provenance: undefined }, { ...sample, text_augment_t5: undefined, text_augment_all: undefined, caption_provenance: undefined });
    assert.deepEqual(sample.text, ['a dog barks', 'dog'], 'input not mutated');

    const skipped = applyCaptions(sample, { status: 'skipped', reason: 'too_short' }, provenance);
    assert.equal(skipped.text_augment_t5, null);
    assert.deepEqual(skipped.text_augment_all, sample.text);
    assert.equal(skipped.caption_provenance.skipped_reason, 'too_short');

    assert.deepEqual(applyCaptions(sample, 'plain caption', provenance).text_augment_t5, ['plain caption']);
    assert.throws(() => applyCaptions(sample, '   ', provenance), /empty caption/);
    // Re-captioning replaces rather than appends.
    const again = applyCaptions(captioned, 'second', provenance);
    assert.deepEqual(again.text_augment_all, ['a dog barks', 'dog', 'second']);
  });
});
