/* Lastmile dispatcher console: the fleet map (Leaflet, vendored). Every driver's planned path,
 * numbered stops coloured by state, a marker per driver that glides to each new position, and
 * the selected driver's trail. Used by dispatch.js through one global, `LastmileDispatchMap`.
 * CSP-clean: markers are built with createElement (names are text), styles via the stylesheet. */
(function (root) {
  'use strict';

  var GLIDE_MS = 900;
  // Room for the zoom buttons (top left) and the legend (bottom left).
  var FIT = { paddingTopLeft: [64, 48], paddingBottomRight: [48, 72], maxZoom: 16 };
  var STOP_LABELS = { planned: 'Planned', active: 'Next', arrived: 'Arrived', done: 'Delivered', failed: 'Failed attempt' };

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

  function point(p) { return p && isFinite(p.lat) && isFinite(p.lon) ? [Number(p.lat), Number(p.lon)] : null; }

  function reducedMotion() {
    return root.matchMedia && root.matchMedia('(prefers-reduced-motion: reduce)').matches;
  }

  /** opts: tiles, attribution, trailUrl ("{id}" in it), clock(iso) → text, onSelect(id), onTiles(ok). */
  function FleetMap(mapEl, opts) {
    var L = root.L;
    var self = this;
    this.opts = opts;
    this.layers = {}; // driver id -> {marker, route, stops, glide, state}
    this.selected = null;
    this.fitted = false;
    this.userMoved = false;
    this.trail = null;
    var map = (this.map = L.map(mapEl, { zoomControl: true }));
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    map.setView([20, 0], 2);
    var loaded = 0;
    var tiles = L.tileLayer(opts.tiles, { attribution: opts.attribution || '', maxZoom: 19, referrerPolicy: 'strict-origin' });
    tiles.on('tileload', function () { loaded++; opts.onTiles(true); });
    tiles.on('tileerror', function () { if (!loaded) opts.onTiles(false); }); // one bad tile is no outage
    tiles.addTo(map);
    map.on('dragstart', function () { self.userMoved = true; });
    map.on('click', function () { opts.onSelect(null); });
  }

  FleetMap.prototype.driverIcon = function (d, color) {
    var box = el('div');
    box.appendChild(el('span', 'dx-marker-heading'));
    box.appendChild(el('span', 'dx-marker-dot dx-c' + color, initials(d.name)));
    return root.L.divIcon({ className: 'dx-marker is-' + d.state, html: box, iconSize: [36, 36], iconAnchor: [18, 18] });
  };

  FleetMap.prototype.stopIcon = function (s) {
    var classes = 'dx-stop-marker is-' + s.state + (s.late ? ' is-late' : '');
    return root.L.divIcon({ className: classes, html: el('span', null, s.sequence + 1), iconSize: [22, 22], iconAnchor: [11, 11] });
  };

  FleetMap.prototype.stopPopup = function (d, s) {
    var clock = this.opts.clock;
    var box = el('div', 'dx-popup');
    box.appendChild(el('b', null, (s.sequence + 1) + '. ' + (s.address || s.tracking_number)));
    box.appendChild(el('div', null, (STOP_LABELS[s.state] || s.state) + (s.late ? ' · late' : '') + ' · ' + d.name));
    var times = [];
    if (s.eta) times.push('ETA ' + clock(s.eta));
    if (s.promised_by) times.push('promised by ' + clock(s.promised_by));
    if (s.done_at) times.push((s.state === 'failed' ? 'attempted ' : 'delivered ') + clock(s.done_at));
    if (times.length) box.appendChild(el('div', null, times.join(' · ')));
    box.appendChild(el('div', 'dx-muted', s.tracking_number));
    return box;
  };

  /** Draw the board's drivers (colors: driver id → colour index); fit the view the first time. */
  FleetMap.prototype.draw = function (board, colors) {
    var self = this;
    var present = {};
    board.drivers.forEach(function (d) {
      present[d.id] = true;
      self.drawDriver(d, colors[d.id]);
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
    if (!this.fitted || (!this.userMoved && !this.selected)) this.fitAll(!this.fitted);
  };

  FleetMap.prototype.drawDriver = function (d, color) {
    var L = root.L;
    var self = this;
    var layer = this.layers[d.id];
    if (!layer) layer = this.layers[d.id] = { marker: null, route: null, stops: L.layerGroup().addTo(this.map), glide: 0 };
    var route = d.route;
    var line = !route ? [] : route.path && route.path.length ? route.path : route.stops.map(function (s) { return [s.lat, s.lon]; });
    if (!layer.route) layer.route = L.polyline(line, { className: 'dx-route dx-c' + color, interactive: false }).addTo(this.map);
    else layer.route.setLatLngs(line);
    layer.stops.clearLayers();
    (route ? route.stops : []).forEach(function (s) {
      var marker = L.marker([s.lat, s.lon], { icon: self.stopIcon(s), keyboard: false, title: s.address || s.tracking_number });
      marker.bindPopup(self.stopPopup(d, s));
      layer.stops.addLayer(marker);
    });
    var at = point(d.position);
    if (at && !layer.marker) {
      layer.marker = L.marker(at, { icon: this.driverIcon(d, color), title: d.name, zIndexOffset: 1000 }).addTo(this.map);
      layer.marker.on('click', function (event) { L.DomEvent.stopPropagation(event); self.opts.onSelect(d.id); });
      layer.state = d.state;
    } else if (layer.marker) {
      if (layer.state !== d.state) { layer.marker.setIcon(this.driverIcon(d, color)); layer.state = d.state; }
      if (at) this.glide(layer, at);
    }
    if (layer.marker && d.position) this.setHeading(layer, d.position.heading);
  };

  /** A live position; returns false when the driver has no marker yet (redraw the board). */
  FleetMap.prototype.move = function (driverId, position) {
    var layer = this.layers[driverId];
    var at = point(position);
    if (!layer || !at || !layer.marker) return false;
    this.glide(layer, at);
    this.setHeading(layer, position.heading);
    if (this.trail && this.trail.driverId === driverId && position.trusted) this.trail.addLatLng(at);
    return true;
  };

  FleetMap.prototype.setHeading = function (layer, heading) {
    var node = layer.marker.getElement();
    var arrow = node && node.querySelector('.dx-marker-heading');
    if (!arrow) return;
    arrow.hidden = heading === null || heading === undefined || !isFinite(heading);
    if (!arrow.hidden) arrow.style.transform = 'rotate(' + Number(heading) + 'deg)';
  };

  FleetMap.prototype.glide = function (layer, to) {
    var marker = layer.marker;
    var from = marker.getLatLng();
    root.cancelAnimationFrame(layer.glide);
    if (reducedMotion()) { marker.setLatLng(to); return; }
    var start = root.performance.now();
    function step(now) {
      var t = Math.min(1, (now - start) / GLIDE_MS);
      var e = t < 0.5 ? 2 * t * t : 1 - Math.pow(-2 * t + 2, 2) / 2; // ease in-out
      marker.setLatLng([from.lat + (to[0] - from.lat) * e, from.lng + (to[1] - from.lng) * e]);
      if (t < 1) layer.glide = root.requestAnimationFrame(step);
    }
    layer.glide = root.requestAnimationFrame(step);
  };

  FleetMap.prototype.boundsOf = function (ids) {
    var bounds = root.L.latLngBounds([]);
    var self = this;
    ids.forEach(function (id) {
      var layer = self.layers[id];
      if (!layer) return;
      if (layer.marker) bounds.extend(layer.marker.getLatLng());
      layer.route.getLatLngs().forEach(function (p) { bounds.extend(p); });
      layer.stops.eachLayer(function (m) { bounds.extend(m.getLatLng()); });
    });
    if (this.trail && ids.indexOf(this.trail.driverId) >= 0 && this.trail.getLatLngs().length) {
      bounds.extend(this.trail.getBounds());
    }
    return bounds;
  };

  FleetMap.prototype.fly = function (bounds, duration) {
    if (!bounds.isValid()) return;
    var fit = { paddingTopLeft: FIT.paddingTopLeft, paddingBottomRight: FIT.paddingBottomRight, maxZoom: FIT.maxZoom };
    if (duration === 0) this.map.fitBounds(bounds, fit);
    else this.map.flyToBounds(bounds, Object.assign({ duration: duration }, fit));
  };

  FleetMap.prototype.fitAll = function (first) {
    var bounds = this.boundsOf(Object.keys(this.layers));
    if (!bounds.isValid()) return;
    this.fly(bounds, first ? 0 : 0.5);
    this.fitted = true;
  };

  /** Highlight one driver (null: everyone), show their trail and bring them into view. */
  FleetMap.prototype.select = function (id) {
    if (this.selected !== id) this.showTrail(id);
    this.selected = id;
    this.applySelection();
    if (id) this.fly(this.boundsOf([id]), 0.6);
    else { this.userMoved = false; this.fitAll(false); }
  };

  /** The selected driver's trace so far today: a dashed line beside the planned path. */
  FleetMap.prototype.showTrail = function (id) {
    var self = this;
    if (this.trail) { this.trail.remove(); this.trail = null; }
    if (!id) return;
    var url = this.opts.trailUrl.replace('{id}', encodeURIComponent(id));
    fetch(url, { credentials: 'same-origin' }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (body) {
      if (!body || self.selected !== id || self.trail) return;
      var color = self.opts.colorOf(id);
      self.trail = root.L.polyline(body.points, { className: 'dx-trail dx-c' + color, interactive: false }).addTo(self.map);
      self.trail.driverId = id;
      self.fly(self.boundsOf([id]), 0.4);
    }, function () { /* the trail is a nicety: the map works without it */ });
  };

  FleetMap.prototype.applySelection = function () {
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

  FleetMap.initials = initials;
  root.LastmileDispatchMap = FleetMap;
})(window);
