/** Audiostock listing parsing: titles and works in audiostock.jp's markup (as a public scraper reads it). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseListing, titleWithoutNumber } from '../../sources/audiostock/listing.ts';

describe('Audiostock listing', () => {
  it('strips only a leading number from titles', () => {
    assert.equal(titleWithoutNumber('1000123 ドアを閉める音'), 'ドアを閉める音');
    assert.equal(titleWithoutNumber('No.1000125 雨の音'), '雨の音');
    assert.equal(titleWithoutNumber('3D Sound sweep'), '3D Sound sweep');
  });
  it('parses works from HTML with entities, loose markup and either attribute order', () => {
    const html = `<div class="player-audio-list"><div class='player-item player-audio-inner x'>
      <button data-logging_audio_id='42'  data-audio_url="/audio/42/play">play</button>
      <div class="player-audio-info-main"><a href="/audio/42">42 Tom &amp; Jerry &#x97F3;</a></div>
      <a class="user-icon-text player-audio-user-name" href="/c/1"><img alt="">  Sato </a>
      <p class="player-audio-time time_label"><span>長さ</span> 1:05</p></div>
      <div class="player-audio-inner player-item"><div class="player-audio-info-main"><a>販売終了</a></div></div></div>`;
    const [work, soldOut] = parseListing(html, 'https://audiostock.jp/se?page=2');
    assert.deepEqual(work, {
      position: 0, id: '42', rawTitle: '42 Tom & Jerry 音', creator: 'Sato', seconds: 65,
      playUrl: 'https://audiostock.jp/audio/42/play', detailUrl: 'https://audiostock.jp/audio/42',
    });
    assert.deepEqual({ id: soldOut!.id, playUrl: soldOut!.playUrl, rawTitle: soldOut!.rawTitle }, { id: null, playUrl: null, rawTitle: '販売終了' });
    assert.deepEqual(parseListing('<html><body>no works</body></html>', 'https://a.example/'), []);
  });
});
