/** Freesound record building: LAION captions, licence ids, search URLs and next links. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { descriptionCaption, freesoundCaptions, titleCaption } from '../../sources/freesound/captions.ts';
import { licenseId } from '../../sources/freesound/license.ts';
import { searchFilter, searchUrl } from '../../sources/freesound/search.ts';
import { freesoundSourceSpecSchema } from '../../schemas/source-spec.ts';

describe('Freesound captions (LAION rules)', () => {
  it('caption 1: title without extension, _ as space, plus "."', () => {
    assert.equal(titleCaption('Door_Slam_01.wav'), 'Door Slam 01.');
    assert.equal(titleCaption('bird.song.final.mp3'), 'bird.song.final.');
    assert.equal(titleCaption('Mr. Smith walks'), 'Mr. Smith walks.');
    assert.equal(titleCaption('Thunder roll'), 'Thunder roll.');
    assert.equal(titleCaption('Wow!'), 'Wow!');
    assert.equal(titleCaption('___.wav'), null);
  });

  it('caption 2: the first sentence, dropped when it holds < or >', () => {
    assert.equal(descriptionCaption('A heavy door slams. Recorded with a Zoom.'), 'A heavy door slams.');
    assert.equal(descriptionCaption('Peak at 3.5 kHz, mono. More.'), 'Peak at 3.5 kHz, mono.');
    assert.equal(descriptionCaption('Loud!  Really.'), 'Loud!');
    assert.equal(descriptionCaption('line one\r\nstill one. two'), 'line one still one.');
    assert.equal(descriptionCaption('no full stop at all'), 'no full stop at all.');
    assert.equal(descriptionCaption('Made with <b>love</b>. Second.'), null);
    assert.equal(descriptionCaption('x > y. Second.'), null);
    assert.equal(descriptionCaption('First. Then <a href="#">html</a>.'), 'First.');
    assert.equal(descriptionCaption(''), null);
    assert.equal(descriptionCaption(null), null);
    assert.deepEqual(freesoundCaptions('a_b.wav', ''), ['a b.']);
  });

  it('maps licence deed URLs (and old names) to short ids', () => {
    assert.equal(licenseId('http://creativecommons.org/publicdomain/zero/1.0/'), 'cc0');
    assert.equal(licenseId('https://creativecommons.org/licenses/by/4.0/'), 'cc-by-4.0');
    assert.equal(licenseId('http://creativecommons.org/licenses/by/3.0/'), 'cc-by-3.0');
    assert.equal(licenseId('http://creativecommons.org/licenses/by-nc/3.0/'), 'cc-by-nc-3.0');
    assert.equal(licenseId('https://creativecommons.org/licenses/by-nc/4.0'), 'cc-by-nc-4.0');
    assert.equal(licenseId('http://creativecommons.org/licenses/sampling+/1.0/'), 'sampling+');
    assert.equal(licenseId('Creative Commons 0'), 'cc0');
    assert.equal(licenseId('https://example.org/odd-licence'), 'https://example.org/odd-licence');
    assert.equal(licenseId(null), null);
  });
});

describe('Freesound search URLs', () => {
  const spec = freesoundSourceSpecSchema.parse({ type: 'freesound', apiBase: 'https://freesound.org/apiv2/', query: 'rain', filter: 'tag:field-recording' });

  it('pushes LAION duration and sample-rate limits into the filter', () => {
    assert.equal(searchFilter(spec), 'tag:field-recording duration:[0 TO 180] samplerate:[16000 TO *]');
    assert.equal(searchFilter({ filter: undefined, maxDuration: null, minSampleRate: null }), '');
    const url = searchUrl(spec, 3);
    assert.equal(url.pathname, '/apiv2/search/');
    assert.equal(url.searchParams.get('page'), '3');
    assert.equal(url.searchParams.get('page_size'), '150');
    assert.equal(url.searchParams.get('sort'), 'created_asc');
    assert.ok(url.searchParams.get('fields')!.split(',').includes('gen_ai_preference'));
    assert.equal(url.searchParams.get('token'), null);
  });

  it('builds page N from the spec with + escaped, so a Sampling+ filter keeps its meaning on every page', () => {
    const spec = freesoundSourceSpecSchema.parse({ type: 'freesound', query: '+door', filter: 'license:"Sampling+"' });
    const url = searchUrl(spec, 2);
    assert.match(url.search, /query=%2Bdoor/);
    assert.match(url.search, /license%3A%22Sampling%2B%22/);
    assert.equal(new URLSearchParams(url.search).get('filter'), 'license:"Sampling+" duration:[0 TO 180] samplerate:[16000 TO *]');
  });
});
