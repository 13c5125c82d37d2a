/* Lastmile dispatcher console: enhances the server-rendered page.
 * The map (Leaflet, vendored) draws every driver, route and stop; `/dispatch/live` (Server-Sent
 * Events) brings the board (`board`) and each driver's newest position (`position`) without a
 * reload. The lists, figures and alerts are re-drawn from the same board JSON the server renders.
 * CSP-clean: no eval, no inline handlers, DOM built with createElement (names are text, never HTML),
 * styles only through element.style or the stylesheet. Labels mirror gateway/dispatch/view.py. */
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
  var GLIDE_MS = 900;
  // Room for the zoom buttons (top left) and the legend (bottom left).
  var FIT = { paddingTopLeft: [64, 48], paddingBottomRight: [48, 72], maxZoom: 16 };

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function initials(name) {
    var parts = String(name).split(/\s+/).filter(function (p) { return /^\p{L}/u.test(p); });
    var letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : String(name).slice(0, 2);
    return (letters || '?').toUpperCase();
  }

  /** The street part of an address (mirrors rules.short_address). */
  function shortAddress(address) {
    return address ? address.split(',')[0].trim() || address : null;
  }

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
    this.zone = mapEl.dataset.timezone || 'UTC';
    this.clockFormat = new Intl.DateTimeFormat('en-GB', {
      hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: this.zone,
    });
    this.board = null;
    this.layers = {}; // driver id -> {marker, route, stops, color, glide}
    this.colors = {};
    this.selected = null;
    this.fitted = false;
    this.userMoved = false;
    this.seenAlerts = {};
    this.positions = 0;
  }

  Console.prototype.clock = function (iso) {
    if (!iso) return '—';
    var at = new Date(iso);
    return isNaN(at.getTime()) ? '—' : this.clockFormat.format(at);
  };

  Console.prototype.start = function (board) {
    var self = this;
    (board.alerts || []).forEach(function (a) { self.seenAlerts[a.id] = true; });
    if (window.L) this.createMap();
    this.render(board);
    this.bindList();
    if (this.mapEl.dataset.liveUrl) this.follow(this.mapEl.dataset.liveUrl);
    document.documentElement.dataset.dispatch = 'ready';
  };

  Console.prototype.createMap = function () {
    var L = window.L;
    var self = this;
    var map = (this.map = L.map(this.mapEl, { zoomControl: true, preferCanvas: false }));
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    map.setView([20, 0], 2);
    var loaded = 0;
    var tiles = L.tileLayer(this.mapEl.dataset.tiles, {
      attribution: this.mapEl.dataset.tilesAttribution || '', maxZoom: 19, referrerPolicy: 'strict-origin',
    });
    tiles.on('tileload', function () {
      loaded++;
      self.mapEl.classList.remove('dx-tiles-off');
      $('dx-map-note').hidden = true;
    });
    tiles.on('tileerror', function () {
      if (loaded) return; // one bad tile among good ones is not an outage
      self.mapEl.classList.add('dx-tiles-off');
      $('dx-map-note').hidden = false;
    });
    tiles.addTo(map);
    map.on('dragstart', function () { self.userMoved = true; });
    map.on('click', function () { self.select(null); });
  };

  Console.prototype.colorOf = function (driverId, index) {
    if (!(driverId in this.colors)) this.colors[driverId] = index % 8;
    return this.colors[driverId];
  };

  Console.prototype.render = function (board) {
    var self = this;
    this.board = board;
    board.drivers.forEach(function (d, i) { self.colorOf(d.id, i); });
    this.renderDrivers(board);
    this.renderAlerts(board.alerts);
    this.renderFigures(board.figures);
    if (this.map) {
      this.drawMap(board);
      if (!this.fitted || (!this.userMoved && !this.selected)) this.fitAll(!this.fitted);
    }
  };

  /* ---- drivers list ---- */
  Console.prototype.nextLine = function (d) {
    var route = d.route;
    if (!route) return 'No route today';
    var stop = route.stops.filter(function (s) { return OPEN[s.state]; })[0];
    if (!stop) return 'Route complete';
    var where = shortAddress(stop.address) || stop.tracking_number;
    return 'Next: ' + where + (stop.eta ? ' · ETA ' + this.clock(stop.eta) : '');
  };

  Console.prototype.seenLine = function (position) {
    if (!position) return 'No position yet';
    var speed = position.speed_mps !== null && position.speed_mps >= 0.5
      ? ' · ' + Math.round(position.speed_mps * 3.6) + ' km/h' : '';
    return 'Seen ' + this.clock(position.recorded_at) + speed;
  };

  Console.prototype.driverItem = function (d) {
    var item = el('li', 'dx-driver is-' + d.state + (this.selected === d.id ? ' is-selected' : ''));
    item.dataset.driver = d.id;
    var head = el('button', 'dx-driver-head');
    head.type = 'button';
    head.setAttribute('aria-label', 'Show ' + d.name + ' on the map');
    head.appendChild(el('span', 'dx-avatar dx-c' + this.colors[d.id], initials(d.name)));
    var who = el('span', 'dx-driver-who');
    who.appendChild(el('span', 'dx-driver-name', d.name));
    who.appendChild(el('span', 'dx-driver-seen', this.seenLine(d.position)));
    head.appendChild(who);
    head.appendChild(el('span', 'dx-pill dx-pill-' + d.state, STATE_LABELS[d.state] || d.state));
    item.appendChild(head);
    var late = 0;
    if (d.route) {
      var row = el('div', 'dx-driver-route');
      var stops = el('ol', 'dx-stops');
      stops.setAttribute('aria-label', 'Stops');
      d.route.stops.forEach(function (s) {
        var dot = el('li', 'dx-stop is-' + s.state + (s.late ? ' is-late' : ''));
        dot.title = (s.sequence + 1) + '. ' + (s.address || s.tracking_number) + ': ' +
          (STOP_LABELS[s.state] || s.state) + (s.late ? ' (late)' : '');
        if (s.late && OPEN[s.state]) late++;
        stops.appendChild(dot);
      });
      row.appendChild(stops);
      var count = el('span', 'dx-driver-count');
      count.title = 'Delivered of all stops';
      count.appendChild(el('b', null, d.route.done));
      count.appendChild(document.createTextNode('/' + d.route.total));
      row.appendChild(count);
      item.appendChild(row);
    }
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

  Console.prototype.bindList = function () {
    var self = this;
    $('dx-drivers').addEventListener('click', function (event) {
      var head = event.target.closest && event.target.closest('.dx-driver-head');
      if (!head) return;
      var id = head.parentNode.dataset.driver;
      self.select(self.selected === id ? null : id);
    });
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

  function rating(value) { return value === null || value === undefined ? '—' : Number(value).toFixed(1); }

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

  /* ---- map ---- */
  function point(p) { return p && isFinite(p.lat) && isFinite(p.lon) ? [Number(p.lat), Number(p.lon)] : null; }

  Console.prototype.driverIcon = function (d, color) {
    var box = el('div');
    var dot = el('span', 'dx-marker-dot dx-c' + color, initials(d.name));
    var heading = el('span', 'dx-marker-heading');
    box.appendChild(heading);
    box.appendChild(dot);
    return window.L.divIcon({ className: 'dx-marker is-' + d.state, html: box, iconSize: [36, 36], iconAnchor: [18, 18] });
  };

  Console.prototype.stopIcon = function (s) {
    var box = el('span', null, s.sequence + 1);
    var classes = 'dx-stop-marker is-' + s.state + (s.late ? ' is-late' : '');
    return window.L.divIcon({ className: classes, html: box, iconSize: [22, 22], iconAnchor: [11, 11] });
  };

  Console.prototype.stopPopup = function (d, s) {
    var box = el('div', 'dx-popup');
    box.appendChild(el('b', null, (s.sequence + 1) + '. ' + (s.address || s.tracking_number)));
    box.appendChild(el('div', null, (STOP_LABELS[s.state] || s.state) + (s.late ? ' · late' : '') + ' · ' + d.name));
    var times = [];
    if (s.eta) times.push('ETA ' + this.clock(s.eta));
    if (s.promised_by) times.push('promised by ' + this.clock(s.promised_by));
    if (s.done_at) times.push((s.state === 'failed' ? 'attempted ' : 'delivered ') + this.clock(s.done_at));
    if (times.length) box.appendChild(el('div', null, times.join(' · ')));
    box.appendChild(el('div', 'dx-muted', s.tracking_number));
    return box;
  };

  Console.prototype.drawMap = function (board) {
    var L = window.L;
    var self = this;
    var present = {};
    board.drivers.forEach(function (d) {
      present[d.id] = true;
      var color = self.colors[d.id];
      var layer = self.layers[d.id];
      if (!layer) {
        layer = self.layers[d.id] = { marker: null, route: null, stops: L.layerGroup().addTo(self.map), glide: 0 };
      }
      var route = d.route;
      var line = route ? (route.path && route.path.length ? route.path : route.stops.map(function (s) { return [s.lat, s.lon]; })) : [];
      if (!layer.route) {
        layer.route = L.polyline(line, { className: 'dx-route dx-c' + color, interactive: false }).addTo(self.map);
      } else {
        layer.route.setLatLngs(line);
      }
      layer.stops.clearLayers();
      (route ? route.stops : []).forEach(function (s) {
        var marker = L.marker([s.lat, s.lon], { icon: self.stopIcon(s), keyboard: false, title: s.address || s.tracking_number });
        marker.bindPopup(self.stopPopup(d, s));
        layer.stops.addLayer(marker);
      });
      var at = point(d.position);
      if (at && !layer.marker) {
        layer.marker = L.marker(at, { icon: self.driverIcon(d, color), title: d.name, zIndexOffset: 1000 }).addTo(self.map);
        layer.marker.on('click', function (event) { L.DomEvent.stopPropagation(event); self.select(d.id); });
        layer.state = d.state;
      } else if (layer.marker) {
        if (layer.state !== d.state) { layer.marker.setIcon(self.driverIcon(d, color)); layer.state = d.state; }
        if (at) self.glide(layer, at);
      }
      if (layer.marker && d.position) self.setHeading(layer, d.position.heading);
    });
    Object.keys(this.layers).forEach(function (id) {
      if (present[id]) return;
      var layer = self.layers[id];
      if (layer.marker) layer.marker.remove();
      layer.route.remove();
      layer.stops.remove();
      delete self.layers[id];
    });
    this.applySelection();
  };

  Console.prototype.setHeading = function (layer, heading) {
    var node = layer.marker.getElement();
    var arrow = node && node.querySelector('.dx-marker-heading');
    if (!arrow) return;
    arrow.hidden = heading === null || heading === undefined || !isFinite(heading);
    if (!arrow.hidden) arrow.style.transform = 'rotate(' + Number(heading) + 'deg)';
  };

  Console.prototype.glide = function (layer, to) {
    var marker = layer.marker;
    var from = marker.getLatLng();
    window.cancelAnimationFrame(layer.glide);
    if (window.matchMedia && window.matchMedia('(prefers-reduced-motion: reduce)').matches) {
      marker.setLatLng(to);
      return;
    }
    var start = window.performance.now();
    function step(now) {
      var t = Math.min(1, (now - start) / GLIDE_MS);
      var e = t < 0.5 ? 2 * t * t : 1 - Math.pow(-2 * t + 2, 2) / 2;
      marker.setLatLng([from.lat + (to[0] - from.lat) * e, from.lng + (to[1] - from.lng) * e]);
      if (t < 1) layer.glide = window.requestAnimationFrame(step);
    }
    layer.glide = window.requestAnimationFrame(step);
  };

  Console.prototype.boundsOf = function (ids) {
    var L = window.L;
    var bounds = L.latLngBounds([]);
    var self = this;
    ids.forEach(function (id) {
      var layer = self.layers[id];
      if (!layer) return;
      if (layer.marker) bounds.extend(layer.marker.getLatLng());
      layer.route.getLatLngs().forEach(function (p) { bounds.extend(p); });
      layer.stops.eachLayer(function (m) { bounds.extend(m.getLatLng()); });
    });
    return bounds;
  };

  Console.prototype.fitAll = function (first) {
    var bounds = this.boundsOf(Object.keys(this.layers));
    if (!bounds.isValid()) return;
    this.map.fitBounds(bounds, { paddingTopLeft: FIT.paddingTopLeft, paddingBottomRight: FIT.paddingBottomRight, maxZoom: FIT.maxZoom, animate: !first });
    this.fitted = true;
  };

  Console.prototype.select = function (id) {
    if (this.selected !== id) this.showTrail(id);
    this.selected = id;
    this.applySelection();
    Array.prototype.forEach.call($('dx-drivers').children, function (item) {
      item.classList.toggle('is-selected', !!id && item.dataset.driver === id);
    });
    if (!this.map) return;
    if (id) {
      var bounds = this.boundsOf([id]);
      if (bounds.isValid()) {
        this.map.flyToBounds(bounds, { paddingTopLeft: FIT.paddingTopLeft, paddingBottomRight: FIT.paddingBottomRight, maxZoom: FIT.maxZoom, duration: 0.6 });
      }
    } else {
      this.userMoved = false;
      this.fitAll(false);
    }
  };

  /** The selected driver's trace so far today: a dashed line beside the planned path. */
  Console.prototype.showTrail = function (id) {
    var self = this;
    if (this.trail) { this.trail.remove(); this.trail = null; }
    if (!id || !this.map) return;
    var url = this.mapEl.dataset.trailUrl.replace('{id}', encodeURIComponent(id));
    fetch(url, { credentials: 'same-origin' }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (body) {
      if (!body || self.selected !== id || self.trail) return;
      var color = self.colors[id] || 0;
      self.trail = window.L.polyline(body.points, { className: 'dx-trail dx-c' + color, interactive: false }).addTo(self.map);
      self.trailOf = id;
      var bounds = self.boundsOf([id]);
      if (body.points.length) bounds.extend(self.trail.getBounds());
      if (bounds.isValid()) {
        self.map.flyToBounds(bounds, { paddingTopLeft: FIT.paddingTopLeft, paddingBottomRight: FIT.paddingBottomRight, maxZoom: FIT.maxZoom, duration: 0.4 });
      }
    }, function () { /* the trail is a nicety: the map works without it */ });
  };

  Console.prototype.applySelection = function () {
    var self = this;
    Object.keys(this.layers).forEach(function (id) {
      var layer = self.layers[id];
      var faded = !!self.selected && self.selected !== id;
      var path = layer.route.getElement && layer.route.getElement();
      if (path) {
        path.classList.toggle('is-faded', faded);
        path.classList.toggle('is-selected', self.selected === id);
      }
      var marker = layer.marker && layer.marker.getElement();
      if (marker) marker.classList.toggle('is-faded', faded);
      layer.stops.eachLayer(function (m) {
        var node = m.getElement();
        if (node) node.classList.toggle('is-faded', faded);
      });
    });
  };

  /* ---- live ---- */
  Console.prototype.onPosition = function (position) {
    this.positions++;
    document.documentElement.dataset.positions = String(this.positions);
    var driver = this.board && this.board.drivers.filter(function (d) { return d.id === position.driver_id; })[0];
    if (!driver) return;
    var newer = !driver.position || new Date(position.recorded_at) >= new Date(driver.position.recorded_at);
    if (!newer) return;
    driver.position = position;
    if (this.trail && this.trailOf === driver.id && position.trusted) this.trail.addLatLng([position.lat, position.lon]);
    var item = document.querySelector('.dx-driver[data-driver="' + driver.id + '"] .dx-driver-seen');
    if (item) item.textContent = this.seenLine(position);
    if (!this.map) return;
    var layer = this.layers[driver.id];
    var at = point(position);
    if (!layer || !at) return;
    if (!layer.marker) {
      this.drawMap(this.board);
      return;
    }
    this.glide(layer, at);
    this.setHeading(layer, position.heading);
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
      if (source.readyState !== EventSource.CLOSED) return;
      // The server refused the stream (e.g. the session ended): find out which, then go on.
      fetch(self.mapEl.dataset.boardUrl, { credentials: 'same-origin' }).then(function (response) {
        if (response.status === 401) window.location.assign(self.mapEl.dataset.loginUrl);
        else window.setTimeout(function () { self.follow(url); }, 5000);
      }, function () { window.setTimeout(function () { self.follow(url); }, 5000); });
    });
  };

  function start() {
    if (loginPage()) return;
    var mapEl = $('dx-map');
    if (!mapEl) return;
    var board = JSON.parse(mapEl.dataset.board);
    var console_ = new Console(mapEl);
    window.LastmileDispatch = console_;
    console_.start(board);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
