/* Lastmile dispatcher console: enhances the server-rendered page.
 * `/dispatch/live` (Server-Sent Events) brings the board (`board`) and each driver's newest
 * position (`position`) without a reload; the lists, figures and alerts are re-drawn from the
 * same board JSON the server renders, the map by dispatch-map.js. Without JavaScript (or
 * Leaflet) the server's page still lists everything. CSP-clean: no eval, no inline handlers, DOM
 * built with createElement (names are text, never HTML). Labels mirror gateway/dispatch/view.py. */
(function () {
  'use strict';

  var STATE_LABELS = {
    driving: 'Driving', at_stop: 'At a stop', off_route: 'Off route',
    waiting: 'Not started', finished: 'Route done', idle: 'No route', offline: 'No signal',
  };
  var STOP_LABELS = { planned: 'Planned', active: 'Next', arrived: 'Arrived', done: 'Delivered', failed: 'Failed attempt' };
  var OPEN = { planned: true, active: true, arrived: true };
  var CHART_FIRST_HOUR = 6;
  var CHART_HEIGHT = 56;
  var RETRY_MS = 5000;

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /** The street part of an address (mirrors rules.short_address). */
  function shortAddress(address) {
    return address ? address.split(',')[0].trim() || address : null;
  }

  /** How far, as the crow flies (mirrors view.distance_text). */
  function distanceText(from, to) {
    var rad = Math.PI / 180;
    var dLat = (to.lat - from.lat) * rad;
    var dLon = (to.lon - from.lon) * rad;
    var a = Math.pow(Math.sin(dLat / 2), 2) +
      Math.cos(from.lat * rad) * Math.cos(to.lat * rad) * Math.pow(Math.sin(dLon / 2), 2);
    var metres = 2 * 6371008.8 * Math.asin(Math.sqrt(a));
    return metres < 950 ? Math.round(metres / 10) * 10 + ' m' : (metres / 1000).toFixed(1) + ' km';
  }

  function rating(value) { return value === null || value === undefined ? '—' : Number(value).toFixed(1); }

  /* ---- login page: tell the server which time zone to show times in ---- */
  function loginPage() {
    var input = $('dx-timezone');
    if (!input) return false;
    try {
      var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (zone) { input.value = zone; $('dx-timezone-text').textContent = zone; }
    } catch (e) { /* UTC stays */ }
    return true;
  }

  /* ---- the console ---- */
  function Console(mapEl) {
    this.mapEl = mapEl;
    this.clockFormat = new Intl.DateTimeFormat('en-GB', {
      hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: mapEl.dataset.timezone || 'UTC',
    });
    this.board = null;
    this.colors = {};
    this.selected = null;
    this.seenAlerts = {};
    this.positions = 0;
    this.map = null;
  }

  Console.prototype.clock = function (iso) {
    if (!iso) return '—';
    var at = new Date(iso);
    return isNaN(at.getTime()) ? '—' : this.clockFormat.format(at);
  };

  Console.prototype.start = function (board) {
    var self = this;
    (board.alerts || []).forEach(function (a) { self.seenAlerts[a.id] = true; });
    if (window.L && window.LastmileDispatchMap) {
      this.map = new window.LastmileDispatchMap(this.mapEl, {
        tiles: this.mapEl.dataset.tiles,
        attribution: this.mapEl.dataset.tilesAttribution,
        trailUrl: this.mapEl.dataset.trailUrl,
        clock: function (iso) { return self.clock(iso); },
        colorOf: function (id) { return self.colors[id] || 0; },
        onSelect: function (id) { self.select(id); },
        onTiles: function (ok) {
          self.mapEl.classList.toggle('dx-tiles-off', !ok);
          $('dx-map-note').hidden = ok;
        },
      });
    }
    this.render(board);
    $('dx-drivers').addEventListener('click', function (event) {
      var head = event.target.closest && event.target.closest('.dx-driver-head');
      if (!head) return;
      var id = head.parentNode.dataset.driver;
      self.select(self.selected === id ? null : id);
    });
    if (this.mapEl.dataset.liveUrl) this.follow(this.mapEl.dataset.liveUrl);
    document.documentElement.dataset.dispatch = 'ready';
  };

  Console.prototype.render = function (board) {
    var self = this;
    this.board = board;
    board.drivers.forEach(function (d, i) { if (!(d.id in self.colors)) self.colors[d.id] = i % 8; });
    this.renderDrivers(board);
    this.renderAlerts(board.alerts);
    this.renderFigures(board.figures);
    if (this.map) this.map.draw(board, this.colors);
  };

  Console.prototype.select = function (id) {
    this.selected = id;
    Array.prototype.forEach.call($('dx-drivers').children, function (item) {
      item.classList.toggle('is-selected', !!id && item.dataset.driver === id);
    });
    if (this.map) this.map.select(id);
  };

  /* ---- drivers list ---- */
  Console.prototype.nextLine = function (d) {
    var route = d.route;
    if (!route) return 'No route today';
    var stop = route.stops.filter(function (s) { return OPEN[s.state]; })[0];
    if (!stop) return 'Route complete';
    var where = shortAddress(stop.address) || stop.tracking_number;
    var away = d.position ? ' · ' + distanceText(d.position, stop) : '';
    return 'Next: ' + where + away + (stop.eta ? ' · ETA ' + this.clock(stop.eta) : '');
  };

  Console.prototype.seenLine = function (position) {
    if (!position) return 'No position yet';
    var speed = position.speed_mps !== null && position.speed_mps >= 0.5
      ? ' · ' + Math.round(position.speed_mps * 3.6) + ' km/h' : '';
    return 'Seen ' + this.clock(position.recorded_at) + speed;
  };

  Console.prototype.stopBar = function (d) {
    var row = el('div', 'dx-driver-route');
    var stops = el('ol', 'dx-stops');
    stops.setAttribute('aria-label', 'Stops');
    d.route.stops.forEach(function (s) {
      var dot = el('li', 'dx-stop is-' + s.state + (s.late ? ' is-late' : ''));
      dot.title = (s.sequence + 1) + '. ' + (s.address || s.tracking_number) + ': ' +
        (STOP_LABELS[s.state] || s.state) + (s.late ? ' (late)' : '');
      stops.appendChild(dot);
    });
    row.appendChild(stops);
    var count = el('span', 'dx-driver-count');
    count.title = 'Delivered of all stops';
    count.appendChild(el('b', null, d.route.done));
    count.appendChild(document.createTextNode('/' + d.route.total));
    row.appendChild(count);
    return row;
  };

  Console.prototype.driverItem = function (d) {
    var item = el('li', 'dx-driver is-' + d.state + (this.selected === d.id ? ' is-selected' : ''));
    item.dataset.driver = d.id;
    var head = el('button', 'dx-driver-head');
    head.type = 'button';
    head.setAttribute('aria-label', 'Show ' + d.name + ' on the map');
    head.appendChild(el('span', 'dx-avatar dx-c' + this.colors[d.id], window.LastmileDispatchMap
      ? window.LastmileDispatchMap.initials(d.name) : d.name.slice(0, 2).toUpperCase()));
    var who = el('span', 'dx-driver-who');
    who.appendChild(el('span', 'dx-driver-name', d.name));
    who.appendChild(el('span', 'dx-driver-seen', this.seenLine(d.position)));
    head.appendChild(who);
    head.appendChild(el('span', 'dx-pill dx-pill-' + d.state, STATE_LABELS[d.state] || d.state));
    item.appendChild(head);
    if (d.route) item.appendChild(this.stopBar(d));
    var late = d.route ? d.route.stops.filter(function (s) { return s.late && OPEN[s.state]; }).length : 0;
    var next = el('p', 'dx-driver-next');
    if (d.route && d.route.failed) next.appendChild(el('span', 'dx-flag dx-flag-bad', d.route.failed + ' failed'));
    if (late) next.appendChild(el('span', 'dx-flag dx-flag-warn', late + ' late'));
    next.appendChild(el('span', 'dx-next-text', this.nextLine(d)));
    item.appendChild(next);
    return item;
  };

  Console.prototype.renderDrivers = function (board) {
    var list = $('dx-drivers');
    var self = this;
    var items = board.drivers.map(function (d) { return self.driverItem(d); });
    if (!items.length) items = [el('li', 'dx-empty', 'No drivers yet. Add them with POST /v1/drivers.')];
    list.replaceChildren.apply(list, items);
    $('dx-driver-count').textContent = board.drivers.length;
  };

  /* ---- alerts and figures ---- */
  Console.prototype.renderAlerts = function (alerts) {
    var list = $('dx-alerts');
    var self = this;
    var items = alerts.map(function (a) {
      var item = el('li', 'dx-alert tone-' + a.tone + ' kind-' + a.kind + (self.seenAlerts[a.id] ? '' : ' is-new'));
      item.dataset.alert = a.id;
      self.seenAlerts[a.id] = true;
      item.appendChild(el('span', 'dx-alert-icon'));
      var body = el('div', 'dx-alert-body');
      body.appendChild(el('p', 'dx-alert-title', a.title));
      body.appendChild(el('p', 'dx-alert-detail', a.detail));
      item.appendChild(body);
      var time = el('time', null, self.clock(a.occurred_at));
      time.dateTime = a.occurred_at;
      item.appendChild(time);
      return item;
    });
    if (!items.length) {
      items = [el('li', 'dx-empty', 'All quiet. Late stops, detours, failed attempts and low ratings show up here.')];
    }
    list.replaceChildren.apply(list, items);
    $('dx-alert-count').textContent = alerts.length;
  };

  Console.prototype.renderFigures = function (f) {
    $('dx-ontime').textContent = f.on_time_rate === null ? '—' : Math.round(f.on_time_rate * 100) + '%';
    $('dx-ontime-sub').textContent = f.measured
      ? f.on_time + ' of ' + f.measured + ' promised deliveries' : 'No promised deliveries yet';
    $('dx-delivered').textContent = f.deliveries;
    $('dx-delivered-sub').textContent = f.failed + ' failed attempt' + (f.failed === 1 ? '' : 's');
    $('dx-rating').textContent = rating(f.average_rating);
    var ratings = f.ratings.map(function (r) {
      var item = el('li');
      item.appendChild(el('span', null, r.name));
      item.appendChild(el('b', null, rating(r.average)));
      item.appendChild(el('small', null, r.count));
      return item;
    });
    if (!ratings.length) ratings = [el('li', 'dx-muted', 'No ratings yet')];
    var list = $('dx-ratings');
    list.replaceChildren.apply(list, ratings);
    var bars = $('dx-chart').querySelectorAll('.dx-bar');
    var counts = f.per_hour.slice(CHART_FIRST_HOUR, CHART_FIRST_HOUR + bars.length);
    var top = Math.max.apply(null, counts.concat([1]));
    Array.prototype.forEach.call(bars, function (bar, i) {
      var count = counts[i] || 0;
      var height = count ? Math.round((CHART_HEIGHT * count) / top) : 2;
      var rect = bar.querySelector('rect');
      rect.setAttribute('height', height);
      rect.setAttribute('y', CHART_HEIGHT - height);
      bar.classList.toggle('has-count', count > 0);
      var hour = CHART_FIRST_HOUR + i;
      bar.querySelector('title').textContent = (hour < 10 ? '0' : '') + hour + ':00 – ' + count;
    });
  };

  /* ---- live ---- */
  Console.prototype.onPosition = function (position) {
    this.positions++;
    document.documentElement.dataset.positions = String(this.positions);
    var driver = this.board && this.board.drivers.filter(function (d) { return d.id === position.driver_id; })[0];
    if (!driver) return;
    if (driver.position && new Date(position.recorded_at) < new Date(driver.position.recorded_at)) return;
    driver.position = position;
    var item = document.querySelector('.dx-driver[data-driver="' + driver.id + '"]');
    var seen = item && item.querySelector('.dx-driver-seen');
    var next = item && item.querySelector('.dx-next-text');
    if (seen) seen.textContent = this.seenLine(position);
    if (next) next.textContent = this.nextLine(driver);
    if (this.map && !this.map.move(driver.id, position)) this.map.draw(this.board, this.colors);
  };

  Console.prototype.setLive = function (state, text) {
    var pill = $('dx-live');
    if (!pill) return;
    pill.dataset.state = state;
    $('dx-live-text').textContent = text;
  };

  Console.prototype.follow = function (url) {
    var self = this;
    var source = new EventSource(url);
    source.addEventListener('open', function () { self.setLive('open', 'Live'); });
    source.addEventListener('board', function (event) { self.render(JSON.parse(event.data)); });
    source.addEventListener('position', function (event) { self.onPosition(JSON.parse(event.data)); });
    source.addEventListener('gone', function () {
      source.close();
      window.location.assign(self.mapEl.dataset.loginUrl);
    });
    source.addEventListener('error', function () {
      self.setLive('retrying', 'Reconnecting…');
      if (source.readyState !== EventSource.CLOSED) return; // the browser retries by itself
      // The server refused the stream (e.g. the session ended): find out which, then go on.
      fetch(self.mapEl.dataset.boardUrl, { credentials: 'same-origin' }).then(function (response) {
        if (response.status === 401) window.location.assign(self.mapEl.dataset.loginUrl);
        else window.setTimeout(function () { self.follow(url); }, RETRY_MS);
      }, function () { window.setTimeout(function () { self.follow(url); }, RETRY_MS); });
    });
  };

  function start() {
    if (loginPage()) return;
    var mapEl = $('dx-map');
    if (!mapEl) return;
    var console_ = new Console(mapEl);
    window.LastmileDispatch = console_;
    console_.start(JSON.parse(mapEl.dataset.board));
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
