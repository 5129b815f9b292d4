/** Audiostock listing parsing: titles, tags, items and next links. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseListing, splitTags, titleWithoutNumber } from '../../sources/audiostock/listing.ts';

describe('Audiostock listing', () => {
  it('strips only a leading number from titles and splits tags on both commas', () => {
    assert.equal(titleWithoutNumber('1000123 ドアを閉める音'), 'ドアを閉める音');
    assert.equal(titleWithoutNumber('No.1000125 雨の音'), '雨の音');
    assert.equal(titleWithoutNumber('3D Sound sweep'), '3D Sound sweep');
    assert.deepEqual(splitTags('雨、天気, 自然,,雨'), ['雨', '天気', '自然']);
  });
  it('parses items and the next link from HTML with entities and loose markup', () => {
    const html = `<ul><li data-audio-id='42'  class="audio-item x"><h2 class="audio-title"><a href="/audio/42">42 Tom &amp; Jerry &#x97F3;</a></h2>
      <p class="audio-tags">a, b</p><dl class="audio-meta"><dt>Scene</dt><dd> Night </dd><dt>用途</dt><dd>Film</dd></dl>
      <button data-play-url="/audio/42/play">play</button></li></ul><a rel="next" href="?page=3">next</a>`;
    const page = parseListing(html, 'https://audiostock.net/se?page=2');
    assert.equal(page.next, 'https://audiostock.net/se?page=3');
    assert.deepEqual(page.items[0], {
      position: 0, id: '42', rawTitle: '42 Tom & Jerry 音', tags: ['a', 'b'], scene: 'Night', purpose: 'Film', impression: null,
      playUrl: 'https://audiostock.net/audio/42/play', detailUrl: 'https://audiostock.net/audio/42',
    });
    assert.deepEqual(parseListing('<html><body>no items</body></html>', 'https://a.example/').items, []);
  });
});
