// clapset dashboard: renders /api/events snapshots (one JSON overview every few seconds).
'use strict';

const $ = (selector, root = document) => root.querySelector(selector);
const fmt = (n, digits = 2) => Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const int = (n) => Number(n).toLocaleString('en-US');
const sum = (counts) => Object.values(counts || {}).reduce((a, b) => a + b, 0);
const history = [];

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function renderStages(overview) {
  const body = $('#stages tbody');
  body.replaceChildren();
  for (const s of overview.queues.stages) {
    const row = body.insertRow();
    row.dataset.stage = s.stage;
    [s.stage, s.waiting, s.active, s.delayed, s.waitingChildren, s.failed, fmt(s.completedPerMinute, 1)].forEach((v) => cell(row, String(v)));
    // Cumulative, from every worker (the same counters as /metrics' clapset_stage_counter).
    const events = overview.stageMetrics[s.stage] || {};
    for (const [counter, className] of [['stalled', 'stalled'], ['lock_lost', 'lock-lost'], ['released_on_shutdown', 'released']]) cell(row, int(events[counter] || 0), className);
  }
  const crawls = $('#crawls');
  crawls.replaceChildren();
  for (const c of overview.queues.crawls) {
    const p = c.progress || {};
    const settled = (p.shardsDone || 0) + (p.shardsSkipped || 0) + (p.shardsFailed || 0);
    const planned = p.shardsPlanned || 0;
    const div = document.createElement('div');
    div.className = 'crawl';
    div.innerHTML = `<strong></strong> → <code></code> <em></em> <span class="bar"><div></div></span> <span class="count"></span>`;
    div.querySelector('strong').textContent = c.source;
    div.querySelector('code').textContent = c.dataset;
    div.querySelector('em').textContent = c.state;
    div.querySelector('.bar > div').style.width = planned ? `${(100 * settled) / planned}%` : '0%';
    div.querySelector('.count').textContent = `${settled}/${planned} shards · ${int(p.records || 0)} records`;
    crawls.append(div);
  }
}

function renderThroughput(overview) {
  const t = overview.stageMetrics.transcode || {};
  history.push({ at: Date.parse(overview.generated_at), clips: (t.clips_ok || 0) + (t.clips_failed || 0) + (t.clips_filtered || 0), audio: t.audio_seconds || 0 });
  while (history.length > 2 && history[history.length - 1].at - history[0].at > 60_000) history.shift();
  if (history.length < 2) return;
  const first = history[0];
  const last = history[history.length - 1];
  const seconds = (last.at - first.at) / 1000;
  if (seconds <= 0) return;
  $('#clips-per-second').textContent = fmt((last.clips - first.clips) / seconds, 1);
  $('#hours-per-hour').textContent = fmt((last.audio - first.audio) / seconds, 1);
}

function histogramChart(name, tally, edges) {
  const width = 360;
  const height = 140;
  const bins = tally.histogram;
  const peak = Math.max(1, ...bins);
  const barWidth = width / bins.length;
  const svgNs = 'http://www.w3.org/2000/svg';
  const figure = document.createElement('figure');
  figure.className = 'chart';
  figure.dataset.source = name;
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height + 16));
  bins.forEach((count, i) => {
    const h = (count / peak) * height;
    const rect = document.createElementNS(svgNs, 'rect');
    rect.setAttribute('class', count > 0 ? 'bin' : 'bin empty');
    rect.setAttribute('x', String(i * barWidth + 1));
    rect.setAttribute('y', String(height - h));
    rect.setAttribute('width', String(barWidth - 2));
    rect.setAttribute('height', String(h));
    rect.dataset.count = String(count);
    const title = document.createElementNS(svgNs, 'title');
    title.textContent = `${edges[i]}–${edges[i + 1]} s: ${count}`;
    rect.append(title);
    svg.append(rect);
  });
  for (const [i, label] of [[0, '0.1 s'], [Math.floor(bins.length / 2), `${edges[Math.floor(bins.length / 2)]} s`], [bins.length - 1, '1 h']]) {
    const text = document.createElementNS(svgNs, 'text');
    text.setAttribute('x', String(i * barWidth));
    text.setAttribute('y', String(height + 12));
    text.textContent = label;
    svg.append(text);
  }
  const caption = document.createElement('figcaption');
  caption.textContent = `${name}: ${int(tally.samples)} clips, log-spaced length bins`;
  figure.append(svg, caption);
  return figure;
}

function renderDataset(dataset, laion) {
  const node = $('#dataset-template').content.firstElementChild.cloneNode(true);
  node.dataset.uri = dataset.uri;
  $('.dataset-uri', node).textContent = dataset.uri;
  if (dataset.embeddings) $('form.search', node).replaceWith(searchForm(dataset));
  const stats = dataset.live.totals.shards > 0 ? dataset.live : dataset.finalised || dataset.live;
  const body = $('.sources tbody', node);
  for (const [name, s] of Object.entries(stats.sources).sort(([a], [b]) => a.localeCompare(b))) {
    const ref = laion[name];
    const row = body.insertRow();
    row.dataset.source = name;
    cell(row, name);
    cell(row, int(s.samples), 'samples');
    cell(row, fmt(s.hours, 3), 'hours');
    cell(row, int(sum(s.failed)), 'failed');
    cell(row, int(sum(s.filtered)), 'filtered');
    cell(row, ref ? int(ref.clips) : '—');
    cell(row, ref ? fmt(ref.hours) : '—');
    cell(row, ref ? `${fmt((100 * s.hours) / ref.hours, 3)} %` : '—');
    $('.charts', node).append(histogramChart(name, s, stats.length_bin_edges_seconds));
  }
  const failures = $('.failures tbody', node);
  for (const f of dataset.failures) {
    const row = failures.insertRow();
    cell(row, new Date(f.time).toLocaleTimeString());
    cell(row, f.shard);
    cell(row, f.id);
    cell(row, f.reason, 'reason');
    cell(row, f.message);
  }
  const shards = $('.shards', node);
  for (const s of dataset.shards) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = s.url;
    a.textContent = `${s.name}.tar`;
    li.append(a, ` (${int(s.samples)})`);
    shards.append(li);
  }
  return node;
}

// Search forms are kept across re-renders (a live update must not wipe a query or its results).
const searchForms = new Map();

function searchForm(dataset) {
  let form = searchForms.get(dataset.uri);
  if (form) return form;
  form = $('#dataset-template').content.querySelector('form.search').cloneNode(true);
  form.hidden = false;
  $('.search-model', form).textContent = `CLAP: ${dataset.embeddings.model}`;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const list = $('.search-results', form);
    list.replaceChildren();
    const q = new FormData(form).get('q');
    const response = await fetch(`api/search?dataset=${dataset.index}&k=10&q=${encodeURIComponent(q)}`);
    const hits = await response.json();
    if (!response.ok) {
      list.textContent = hits.error;
      return;
    }
    for (const hit of hits) {
      const li = document.createElement('li');
      li.className = 'hit';
      li.dataset.key = hit.key;
      const audio = document.createElement('audio');
      audio.controls = true;
      audio.preload = 'none';
      audio.src = hit.audio.replace(/^\//, '');
      li.append(`${hit.score.toFixed(3)} ${hit.key} `, audio);
      list.append(li);
    }
  });
  searchForms.set(dataset.uri, form);
  return form;
}

function renderProbes(overview) {
  const body = $('#probes tbody');
  body.replaceChildren();
  const mark = (v) => (v === null ? '–' : v ? 'yes' : 'NO');
  for (const p of overview.probes || []) {
    const row = body.insertRow();
    row.dataset.source = p.source;
    row.className = p.ok ? 'ok' : 'drift';
    [p.source, new Date(p.checked_at).toLocaleString(), p.ok ? 'ok' : 'DRIFT', mark(p.reachable), mark(p.authorised), mark(p.format), mark(p.media), p.total === null ? 'not stated' : int(p.total), p.problems.join('; ')].forEach((v) => cell(row, String(v)));
  }
}

function render(overview) {
  $('#updated').textContent = `updated ${new Date(overview.generated_at).toLocaleTimeString()}`;
  renderStages(overview);
  renderProbes(overview);
  renderThroughput(overview);
  $('#datasets').replaceChildren(...overview.datasets.map((d) => renderDataset(d, overview.laion)));
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
}

function connect() {
  const status = $('#connection');
  const events = new EventSource('api/events');
  events.onopen = () => {
    status.textContent = 'live';
    status.className = 'pill live';
  };
  events.onmessage = (event) => render(JSON.parse(event.data));
  events.onerror = () => {
    status.textContent = 'reconnecting…';
    status.className = 'pill down';
  };
}

connect();
