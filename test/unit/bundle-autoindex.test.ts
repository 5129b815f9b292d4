import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSegment, parseListing } from '../../sources/bundle/autoindex.ts';

const PAGE = 'https://mirror.example.org/bundles/Sonniss%202024/';
const names = (html: string, page = PAGE) => parseListing(html, page).map((l) => `${l.kind}:${l.name}`);

describe('directory listing pages', () => {
  it('Apache mod_autoindex: sorting links, parent link and icons ignored; names decoded', () => {
    const html = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html><head><title>Index of /bundles/Sonniss 2024</title></head><body><h1>Index of /bundles/Sonniss 2024</h1>
<table><tr><th valign="top"><img src="/icons/blank.gif" alt="[ICO]"></th><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th><th><a href="?C=S;O=A">Size</a></th></tr>
<tr><td valign="top"><img src="/icons/back.gif" alt="[PARENTDIR]"></td><td><a href="/bundles/">Parent Directory</a></td></tr>
<tr><td><a href="Foley%20%26%20Props/">Foley &amp; Props/</a></td></tr>
<tr><td><a href="Caf%C3%A9%20Chairs%20%E2%80%93%20Scrape.wav">Café Chairs – Scrape.wav</a></td></tr>
<tr><td><a href="./Take%3A2.wav">Take:2.wav</a></td></tr>
<tr><td><a href="R&amp;B%20Hit.v1.final.WAV">R&amp;B Hit.v1.final.WAV</a></td></tr>
</table><address>Apache/2.4.58 Server at mirror.example.org Port 443</address></body></html>`;
    assert.deepEqual(names(html), ['dir:Foley & Props', 'file:Café Chairs – Scrape.wav', 'file:Take:2.wav', 'file:R&B Hit.v1.final.WAV']);
    assert.equal(parseListing(html, PAGE)[1]!.segment, 'Caf%C3%A9%20Chairs%20%E2%80%93%20Scrape.wav');
  });

  it('nginx autoindex: ../ ignored, truncated display text never used', () => {
    const html = `<html>\r\n<head><title>Index of /bundles/Sonniss 2024/</title></head>\r\n<body>\r\n<h1>Index of /bundles/Sonniss 2024/</h1><hr><pre><a href="../">../</a>
<a href="Ambience/">Ambience/</a>                                          01-Jan-2024 00:00       -
<a href="A%20very%20long%20file%20name%20that%20nginx%20cuts%20short%20in%20the%20text.wav">A very long file name that nginx cuts short i..&gt;</a> 01-Jan-2024 00:00  288044
</pre><hr></body>\r\n</html>`;
    assert.deepEqual(names(html), ['dir:Ambience', 'file:A very long file name that nginx cuts short in the text.wav']);
  });

  it('lighttpd, python http.server and IIS styles: relative, bare and absolute hrefs alike', () => {
    const lighttpd = `<table><tr><td class="n"><a href="../">Parent Directory</a>/</td></tr><tr><td class="n"><a href="Impacts/">Impacts</a>/</td></tr><tr><td class="n"><a href="Hit%2001.aif">Hit 01.aif</a></td></tr></table>`;
    assert.deepEqual(names(lighttpd), ['dir:Impacts', 'file:Hit 01.aif']);
    const python = `<ul>\n<li><a href="Door%20Slam.wav">Door Slam.wav</a></li>\n<li><a href=Whoosh.wav>Whoosh.wav</a></li>\n</ul>`;
    assert.deepEqual(names(python), ['file:Door Slam.wav', 'file:Whoosh.wav']);
    const iis = `<pre><A HREF="/bundles/">[To Parent Directory]</A><br><br> 1/1/2024 12:00 AM &lt;dir&gt; <A HREF="/bundles/Sonniss%202024/Rain/">Rain</A><br> 1/1/2024 12:00 AM 288044 <A HREF='/bundles/Sonniss%202024/Rain%20Light.wav'>Rain Light.wav</A><br></pre>`;
    assert.deepEqual(names(iis), ['dir:Rain', 'file:Rain Light.wav']);
  });

  it('drops links that are not direct children: other hosts, deeper paths, siblings, self, queries, fragments, other schemes', () => {
    const html = [
      '<a href="https://elsewhere.example/x.wav">',
      '<a href="//cdn.example.org/bundles/Sonniss%202024/x.wav">',
      '<a href="Rain/Light.wav">',
      '<a href="../Odeon/x.wav">',
      '<a href="./">',
      '<a href="/bundles/Sonniss%202024/">',
      '<a href="x.wav?download=1">',
      '<a href="#top">',
      '<a href="mailto:admin@example.org">',
      '<a href="%2e%2e/%2e%2e/up.wav">',
      '<a href="">',
      '<a name="anchor">',
      '<a href="keep.wav#frag">',
      '<a href="keep.wav">',
    ].join('\n');
    assert.deepEqual(names(html), ['file:keep.wav']);
  });

  it('an escaped slash stays in the name (the crawl refuses it later); the page URL without its slash is a folder', () => {
    assert.deepEqual(names('<a href="..%2Fevil.wav">x</a>', 'https://mirror.example.org/bundles/Sonniss%202024'), ['file:../evil.wav']);
  });

  it('decodes HTML character references in hrefs and Latin-1 escapes', () => {
    assert.deepEqual(names(`<a href="R&amp;B%20&#39;x&#x27;.wav">1</a><a href='&quot;q&quot;.wav'>2</a>`), ['file:R&B \'x\'.wav', 'file:"q".wav']);
    assert.equal(decodeSegment('Caf%C3%A9'), 'Café');
    assert.equal(decodeSegment('Caf%E9%20bell'), 'Café bell'); // not UTF-8: read as Latin-1
    assert.equal(decodeSegment('100%'), '100%');
  });
});
