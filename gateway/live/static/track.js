/* The tracking page, live: the server-rendered page works without this script; with it the map
 * appears and the status, ETA and truck follow the shipment's event stream without a reload.
 * Everything comes from the page: URLs, tiles and texts from data attributes on #live-map, the
 * first positions from its data-live (the status JSON's `live` object). See ../README.md. */
(function () {
  'use strict';
  var el = document.getElementById('live-map');
  var Live = window.LastmileLive;
  if (!el || !Live || !Live.follow || !window.L) return; // the page stays as the server rendered it

  var OSM_TILES = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png';
  var OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';
  var d = el.dataset;
  var page = document.getElementById('tracking') || document.body;
  var card = document.getElementById('live');
  var texts = {
    seen: d.textSeen, lastSeen: d.textLastSeen, live: d.textLive || 'Live',
    reconnecting: d.textReconnecting || 'Reconnecting',
    gone: d.textGone || 'This tracking link is no longer active.',
    tilesOff: d.textTilesOff || '', refresh: d.textRefresh || '',
  };
  var locale = d.locale || document.documentElement.lang;
  var zone = d.timezone;
  var byId = function (id) { return document.getElementById(id); };
  var map = null;
  var driver = null;

  function show(node, text) {
    if (!node) return;
    node.textContent = text || '';
    node.hidden = !text;
  }

  function ensureMap() {
    if (map) return map;
    el.classList.add('lm-on');
    map = Live.createMap(window.L, el, {
      tiles: d.tiles || OSM_TILES,
      attribution: d.tilesAttribution || OSM_ATTRIBUTION,
      titles: { driver: d.textDriver, destination: d.textDestination },
      onTiles: function (ok) { show(byId('live-note'), ok ? '' : texts.tilesOff); },
    });
    return map;
  }

  function showDriver(pos) {
    driver = pos || null;
    var line = byId('live-text');
    show(line, Live.driverText(driver, texts, locale, zone));
    if (line) line.classList.toggle('lm-stale-text', !!(driver && driver.stale));
    var pill = byId('live-pill');
    if (pill) pill.classList.toggle('lm-quiet', !!(driver && driver.stale)); // connected, but no news
  }

  /** The `live` object: map only while a driver is on the way; the card only with something in it. */
  function applyLive(live) {
    live = live || {};
    if (live.driver) ensureMap().update(live);
    else if (map) map.update(live);
    el.classList.toggle('lm-on', !!live.driver);
    if (live.driver && map) map.resize();
    showDriver(live.driver);
    show(byId('live-eta'), live.eta_text);
    if (card) card.hidden = !(live.driver || live.eta_text);
  }

  function setTone(tone) {
    page.className = page.className.replace(/\btone-[a-z]+\b/g, '').trim() + ' tone-' + tone;
  }

  function setBadge(text) {
    var badge = byId('badge');
    if (!badge) return;
    var label = badge.lastChild;
    if (label && label.nodeType === 3) label.nodeValue = text;
    else badge.appendChild(document.createTextNode(text));
  }

  function setSummary(text) {
    var summary = byId('summary');
    if (!summary && text) {
      summary = document.createElement('p');
      summary.className = 'summary';
      summary.id = 'summary';
      byId('headline').insertAdjacentElement('afterend', summary);
    }
    show(summary, text);
  }

  function setSteps(steps) {
    var items = page.querySelectorAll('.steps .step');
    if (!steps || items.length !== steps.length) return;
    steps.forEach(function (step, i) {
      items[i].className = 'step ' + step.state;
      var current = step.state === 'current' || step.state === 'problem';
      if (current) items[i].setAttribute('aria-current', 'step');
      else items[i].removeAttribute('aria-current');
      var label = items[i].querySelector('.step-label');
      if (label) label.textContent = step.label;
    });
  }

  function child(parent, tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    parent.appendChild(node);
    return node;
  }

  /** The timeline as the template renders it; `events` come newest first, with their local day. */
  function renderTimeline(section, events) {
    var key = events.length + '|' + (events.length ? events[0].occurred_at : '');
    if (!section || !events.length || section.getAttribute('data-shown') === key) return;
    section.setAttribute('data-shown', key);
    var title = section.querySelector('h2');
    while (title.nextSibling) section.removeChild(title.nextSibling);
    var list = null;
    var day = null;
    events.forEach(function (e) {
      if (e.local_day !== day) {
        day = e.local_day;
        child(section, 'h3', 'day', day);
        list = child(section, 'ol', 'events');
      }
      var item = child(list, 'li', 'event s-' + e.status);
      child(item, 'time', '', e.local_time).setAttribute('datetime', e.occurred_at);
      var what = child(item, 'div', 'what');
      child(what, 'p', 'label', e.label);
      if (e.description) child(what, 'p', 'detail', e.description);
      if (e.location) child(what, 'p', 'where', e.location);
    });
  }

  function applyState(s) {
    if (s.tone) setTone(s.tone);
    if (s.badge) setBadge(s.badge);
    if (s.headline) {
      byId('headline').textContent = s.headline;
      if (s.store && s.store.name) document.title = s.headline + ' · ' + s.store.name;
    }
    if ('summary' in s) setSummary(s.summary);
    setSteps(s.steps);
    if (s.events) renderTimeline(page.querySelector('.timeline'), s.events);
    applyLive(s.live);
    var before = page.getAttribute('data-status');
    page.setAttribute('data-status', s.status);
    if (s.status === 'delivered' && before !== 'delivered' && texts.refresh && !byId('proof')) {
      offerReload();
    }
  }

  /** Proof of delivery and the rating form are server-rendered: offer them instead of reloading. */
  function offerReload() {
    if (byId('live-refresh')) return;
    var note = document.createElement('p');
    note.className = 'lm-refresh';
    note.id = 'live-refresh';
    note.setAttribute('role', 'status');
    var link = document.createElement('a');
    link.href = window.location.href;
    link.textContent = texts.refresh;
    note.appendChild(link);
    page.insertBefore(note, page.querySelector('.card'));
  }

  function applyPosition(pos) {
    if (!map) { applyLive({ driver: pos, eta_text: (byId('live-eta') || {}).textContent }); return; }
    el.classList.add('lm-on');
    if (card) card.hidden = false;
    map.move(pos);
    showDriver(pos);
  }

  function applyGone(data) {
    var note = document.createElement('p');
    note.className = 'lm-gone';
    note.id = 'live-gone';
    note.setAttribute('role', 'status');
    note.textContent = data.text || texts.gone;
    page.insertBefore(note, page.querySelector('.card'));
    if (card) card.hidden = true;
    var pill = byId('live-pill');
    if (pill) pill.hidden = true;
  }

  function connection(state) {
    var pill = byId('live-pill');
    if (!pill) return;
    pill.hidden = false;
    pill.classList.toggle('lm-reconnecting', state !== 'live');
    pill.textContent = state === 'live' ? texts.live : texts.reconnecting;
  }

  var first = {};
  try { first = JSON.parse(d.live || '{}') || {}; } catch (err) { first = {}; }
  applyLive(first);
  Live.follow({
    liveUrl: d.liveUrl,
    statusUrl: d.statusUrl || page.getAttribute('data-status-url'),
    onState: applyState,
    onPosition: applyPosition,
    onGone: applyGone,
    onConnection: connection,
  });
})();
