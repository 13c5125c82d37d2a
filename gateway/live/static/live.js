/* Lastmile live view, shared by track.js (the tracking page) and widget.js (the embed):
 * createMap() draws the destination, the truck and the remaining path with Leaflet;
 * follow() subscribes to the live Server-Sent Events and falls back to the status JSON.
 * One global, `LastmileLive`; Leaflet is passed in (the widget hides Leaflet's globals).
 * CSP-clean: no eval, no inline styles from HTML strings (only element.style from code). */
(function (root) {
  'use strict';
  var ns = (root.LastmileLive = root.LastmileLive || {});
  if (ns.createMap) return; // loaded twice: the first copy serves both

  var GLIDE_MS = 1200; // a truck glides to each new position instead of jumping
  var FIT = { padding: [40, 40], maxZoom: 16 };
  var TRUCK =
    '<span class="lm-truck-heading"></span><span class="lm-truck-body">' +
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">' +
    '<path d="M2.5 6.2c0-.7.6-1.2 1.2-1.2h9.6c.7 0 1.2.5 1.2 1.2V16H2.5z"/>' +
    '<path d="M15.5 8.5h3.1c.4 0 .8.2 1 .5l2 2.8c.2.2.2.5.2.8V16h-6.3z"/>' +
    '<circle cx="6.5" cy="17" r="2.2" class="lm-wheel"/><circle cx="18" cy="17" r="2.2" class="lm-wheel"/>' +
    '</svg></span>';
  var PIN =
    '<svg viewBox="0 0 32 42" aria-hidden="true" focusable="false">' +
    '<path class="lm-pin" d="M16 1C7.7 1 1 7.6 1 15.8 1 27 16 41 16 41s15-14 15-25.2C31 7.6 24.3 1 16 1z"/>' +
    '<path class="lm-pin-home" d="M16 8.5l-7 5.6V22h5v-4.5h4V22h5v-7.9z"/></svg>';

  function latLng(point) {
    if (!point || !isFinite(point.lat) || !isFinite(point.lon)) return null;
    return [Number(point.lat), Number(point.lon)];
  }

  /** The remaining path: from the truck, along `path` after the vertex nearest to it. */
  function remaining(path, driver) {
    if (!driver || !path.length) return path;
    var best = 0;
    var bestD = Infinity;
    for (var i = 0; i < path.length; i++) {
      var dLat = path[i][0] - driver[0];
      var dLon = (path[i][1] - driver[1]) * Math.cos((driver[0] * Math.PI) / 180);
      var d = dLat * dLat + dLon * dLon;
      if (d < bestD) { bestD = d; best = i; }
    }
    return [driver].concat(path.slice(best + 1));
  }

  function reducedMotion() {
    return root.matchMedia && root.matchMedia('(prefers-reduced-motion: reduce)').matches;
  }

  /**
   * A Leaflet map in `el`. opts: tiles (URL template), attribution (HTML from the server's own
   * configuration), titles {driver, destination}, onTiles(ok) when tiles start/stop failing.
   */
  ns.createMap = function (L, el, opts) {
    var map = L.map(el, {
      zoomControl: true,
      scrollWheelZoom: false, // the page scrolls past the map, not into it
      dragging: !L.Browser.mobile, // one finger scrolls the page; pinch still zooms
      tap: false,
      // A ResizeObserver follows the box itself; Leaflet's own window listener would also leave
      // a `_leaflet_events` property on the host page's window.
      trackResize: !root.ResizeObserver,
    });
    var sized = root.ResizeObserver && new root.ResizeObserver(function () { resize(); });
    if (sized) sized.observe(el);
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    var tiles = L.tileLayer(opts.tiles, {
      attribution: opts.attribution,
      maxZoom: 19,
      // The page URL holds the customer's token: send tile servers the origin only (OSM
      // requires a Referer; the page itself is no-referrer).
      referrerPolicy: 'strict-origin',
    }).addTo(map);
    var tilesLoaded = 0;
    tiles.on('tileload', function () {
      tilesLoaded++;
      el.classList.remove('lm-tiles-off');
      if (opts.onTiles) opts.onTiles(true);
    });
    tiles.on('tileerror', function () {
      if (tilesLoaded) return; // one bad tile among good ones is not an outage
      el.classList.add('lm-tiles-off');
      if (opts.onTiles) opts.onTiles(false);
    });

    var titles = opts.titles || {};
    var dest = null;
    var truck = null;
    var line = L.polyline([], { className: 'lm-path', interactive: false }).addTo(map);
    var path = [];
    var glide = 0;
    var userMoved = false;
    var fitting = false;
    map.on('dragstart', function () { userMoved = true; });
    map.on('zoomstart', function () { if (!fitting) userMoved = true; });

    function fit() {
      var points = [];
      if (dest) points.push(dest.getLatLng());
      if (truck) points.push(truck.getLatLng());
      if (!points.length) return;
      fitting = true;
      if (points.length === 1) map.setView(points[0], 15, { animate: false });
      else map.fitBounds(L.latLngBounds(points), FIT);
      fitting = false;
    }

    function truckMarker(at) {
      var icon = L.divIcon({ className: 'lm-truck', html: TRUCK, iconSize: [44, 44], iconAnchor: [22, 22] });
      return L.marker(at, { icon: icon, title: titles.driver || '', keyboard: false, zIndexOffset: 1000 });
    }

    function setHeading(heading) {
      var arrow = truck && truck.getElement() && truck.getElement().querySelector('.lm-truck-heading');
      if (!arrow) return;
      arrow.hidden = !isFinite(heading) || heading === null;
      if (!arrow.hidden) arrow.style.transform = 'rotate(' + Number(heading) + 'deg)';
    }

    function moveTruck(to, animate) {
      root.cancelAnimationFrame(glide);
      var marker = truck;
      var from = marker.getLatLng();
      if (!animate || reducedMotion()) { marker.setLatLng(to); return; }
      var start = root.performance.now();
      function step(now) {
        var t = Math.min(1, (now - start) / GLIDE_MS);
        var e = t < 0.5 ? 2 * t * t : 1 - Math.pow(-2 * t + 2, 2) / 2; // ease in-out
        marker.setLatLng([from.lat + (to[0] - from.lat) * e, from.lng + (to[1] - from.lng) * e]);
        if (t < 1) glide = root.requestAnimationFrame(step);
      }
      glide = root.requestAnimationFrame(step);
    }

    /** A driver position (from `live.driver` or a `position` event); null removes the truck. */
    function setDriver(pos, animate) {
      var at = latLng(pos);
      if (!at) {
        root.cancelAnimationFrame(glide);
        if (truck) { truck.remove(); truck = null; }
        line.setLatLngs(path);
        return;
      }
      var first = !truck;
      if (first) truck = truckMarker(at).addTo(map);
      else moveTruck(at, animate);
      setHeading(pos.heading);
      el.classList.toggle('lm-stale', pos.stale === true);
      line.setLatLngs(remaining(path, at));
      if (first || (!userMoved && !map.getBounds().pad(-0.08).contains(at))) fit();
    }

    /** Leaflet measures its box once: after a resize (or being shown) measure and fit again. */
    function resize() {
      map.invalidateSize();
      if (!userMoved) fit();
    }

    /** The `live` object of the status JSON: destination, driver and path at once. */
    function update(live) {
      live = live || {};
      path = (live.path || []).filter(function (p) { return p && isFinite(p[0]) && isFinite(p[1]); });
      var at = latLng(live.destination);
      if (at && !dest) {
        var icon = L.divIcon({ className: 'lm-dest', html: PIN, iconSize: [32, 42], iconAnchor: [16, 41] });
        dest = L.marker(at, { icon: icon, title: titles.destination || '', keyboard: false }).addTo(map);
      } else if (at) {
        dest.setLatLng(at);
      } else if (dest) {
        dest.remove();
        dest = null;
      }
      var hadTruck = !!truck;
      setDriver(live.driver, hadTruck);
      if (!hadTruck && !truck) fit();
    }

    return {
      update: update,
      move: function (pos) { setDriver(pos, true); },
      resize: resize,
      destroy: function () {
        root.cancelAnimationFrame(glide);
        if (sized) sized.disconnect();
        map.remove();
      },
    };
  };

  /** "HH:MM" of an ISO instant in the recipient's time zone and language. */
  ns.clock = function (iso, locale, timeZone) {
    var when = new Date(iso);
    if (isNaN(when)) return '';
    try {
      return when.toLocaleTimeString(locale || undefined, { hour: 'numeric', minute: '2-digit', timeZone: timeZone || undefined });
    } catch (err) { // an unknown zone or locale: the browser's own
      return when.toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' });
    }
  };

  /** The driver line: the server's label, or "Seen/Last seen {time}" built from the templates. */
  ns.driverText = function (pos, texts, locale, timeZone) {
    if (!pos) return '';
    if (pos.label) return pos.label;
    var template = pos.stale ? texts.lastSeen : texts.seen;
    return (template || '{time}').replace('{time}', ns.clock(pos.recorded_at, locale, timeZone));
  };

  function parse(event) {
    try { return JSON.parse(event.data || 'null') || {}; } catch (err) { return null; }
  }

  /**
   * Follow a shipment: opts.liveUrl (SSE), opts.statusUrl (JSON), callbacks onState(status),
   * onPosition(position), onGone(data), onConnection('live' | 'reconnecting').
   * The browser reconnects by itself (sending Last-Event-ID); when it gives up (an HTTP error)
   * the status JSON says whether the link is gone, and the stream is retried with back-off.
   */
  ns.follow = function (opts) {
    var source = null;
    var timer = 0;
    var closed = false;
    var failures = 0;
    var latest = null; // the newest position shown: a late or replayed one never moves back
    var fetchOpts = { headers: { Accept: 'application/json' }, cache: 'no-store', credentials: opts.credentials || 'same-origin' };

    function older(pos) {
      return latest && Date.parse(pos.recorded_at) < Date.parse(latest.recorded_at);
    }
    function close() {
      closed = true;
      root.clearTimeout(timer);
      if (source) source.close();
      source = null;
    }
    function gone(data) {
      if (closed) return;
      close();
      opts.onGone(data || {});
    }
    function state(data) {
      var live = data.live;
      if (live && live.driver && older(live.driver)) live.driver = latest;
      else if (live && live.driver) latest = live.driver;
      opts.onState(data);
    }
    function position(data) {
      if (older(data)) return;
      latest = data;
      opts.onPosition(data);
    }
    function listen(name, handler) {
      source.addEventListener(name, function (event) {
        var data = parse(event);
        if (data) handler(data);
      });
    }
    function open() {
      if (closed) return;
      if (!root.EventSource) { check(); return; }
      source = new root.EventSource(opts.liveUrl);
      source.onopen = function () { failures = 0; opts.onConnection('live'); };
      listen('state', state);
      listen('position', position);
      source.addEventListener('gone', function (event) { gone(parse(event)); });
      source.onerror = function () {
        if (closed) return;
        opts.onConnection('reconnecting');
        if (source.readyState === root.EventSource.CLOSED) { source = null; check(); }
      };
    }
    function check() {
      var delay = Math.min(60000, 5000 * Math.pow(2, failures++));
      root.fetch(opts.statusUrl, fetchOpts).then(function (response) {
        if ([401, 403, 404, 410].indexOf(response.status) >= 0) return gone({});
        if (response.ok) return response.json().then(state);
      }).catch(function () { /* offline: try again below */ }).then(function () {
        if (!closed) timer = root.setTimeout(open, delay);
      });
    }

    open();
    return { close: close };
  };
})(window);
