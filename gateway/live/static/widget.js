/* Lastmile tracking widget, embedded on a store's own pages:
 *   <div data-lastmile-shipment data-token="WIDGET_TOKEN"></div>
 *   <script src="https://GATEWAY/widget.js" async></script>
 * Each such div gets an open shadow root (styles isolated both ways) showing the status, ETA, a
 * compact timeline and, while a driver is on the way, the live map. Data: GET
 * {gateway}/widget/{token}/status and EventSource {gateway}/widget/{token}/live (gateway/live/README.md).
 * Globals: only `LastmileLive` (Leaflet's `L` and `leaflet` are put back as they were).
 * Optional attributes on the div: data-lang="es", data-theme="dark|auto". */
(function () {
  'use strict';
  var VERSION = '1.0.0';
  var ns = (window.LastmileLive = window.LastmileLive || {});
  if (ns.widget) { ns.widget.scan(); return; } // loaded twice: the first copy renders every div

  var script = document.currentScript || findScript();
  if (!script || !script.src) return;
  var BASE = script.src.replace(/\/widget\.js(?:[?#].*)?$/, '');
  var REFUSED = [401, 403, 404, 410];
  var OSM_TILES = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png';
  var OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';
  var TEXT = {
    en: {
      loading: 'Loading tracking…', unavailable: 'Tracking isn’t available for this order.',
      offline: 'Tracking can’t be reached right now. Trying again shortly.',
      gone: 'This tracking link is no longer active.', live: 'Live', reconnecting: 'Reconnecting',
      driver: 'Your driver', destination: 'Your address', map: 'Map: your driver and your address',
      seen: 'Seen {time}', lastSeen: 'Last seen {time}', progress: 'Progress',
    },
    es: {
      loading: 'Cargando seguimiento…', unavailable: 'El seguimiento no está disponible para este pedido.',
      offline: 'No podemos conectar con el seguimiento. Lo intentamos de nuevo en breve.',
      gone: 'Este enlace de seguimiento ya no está activo.', live: 'En vivo', reconnecting: 'Reconectando',
      driver: 'Tu repartidor', destination: 'Tu dirección', map: 'Mapa: tu repartidor y tu dirección',
      seen: 'Visto a las {time}', lastSeen: 'Visto por última vez a las {time}', progress: 'Progreso',
    },
  };
  var CSS = [
    ':host{display:block}',
    '.lm-w{all:initial;display:block;box-sizing:border-box;position:relative;overflow:hidden;max-width:100%;',
    'font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;',
    'color:var(--ink);background:var(--card);border:1px solid var(--line);border-radius:16px;padding:16px;',
    'box-shadow:0 1px 2px rgba(16,24,40,.06),0 1px 8px rgba(16,24,40,.04);text-align:left;',
    '--card:#fff;--ink:#14161a;--muted:#5d6472;--line:#e3e6ec;--accent:#2454d6;--good:#138a4e;',
    '--good-bg:#e4f6ec;--info:#2454d6;--info-bg:#e7eeff;--active:#6a3fd1;--active-bg:#efe8ff;--warn:#a55a00;',
    '--warn-bg:#fff1dc;--bad:#b42318;--bad-bg:#fde8e6;--neutral:#4b5563;--neutral-bg:#eef0f3;',
    '--tone:var(--neutral);--tone-bg:var(--neutral-bg)}',
    '.lmw-dark{--card:#181b21;--ink:#eef0f4;--muted:#9aa3b2;--line:#2a2f38;--accent:#7d9bff;--good:#4cd18b;',
    '--good-bg:#15301f;--info:#7d9bff;--info-bg:#1a2340;--active:#b59bff;--active-bg:#261d3d;--warn:#f0b156;',
    '--warn-bg:#33250f;--bad:#ff8a80;--bad-bg:#3a1715;--neutral:#aab2bf;--neutral-bg:#242831}',
    '@media (prefers-color-scheme:dark){.lmw-auto{--card:#181b21;--ink:#eef0f4;--muted:#9aa3b2;--line:#2a2f38;',
    '--accent:#7d9bff;--good:#4cd18b;--good-bg:#15301f;--info:#7d9bff;--info-bg:#1a2340;--active:#b59bff;',
    '--active-bg:#261d3d;--warn:#f0b156;--warn-bg:#33250f;--neutral:#aab2bf;--neutral-bg:#242831}}',
    '.lm-w *,.lm-w *::before,.lm-w *::after{box-sizing:border-box}',
    '.lm-w [hidden]{display:none!important}',
    '.tone-good{--tone:var(--good);--tone-bg:var(--good-bg)}.tone-info{--tone:var(--info);--tone-bg:var(--info-bg)}',
    '.tone-active{--tone:var(--active);--tone-bg:var(--active-bg)}.tone-warn{--tone:var(--warn);--tone-bg:var(--warn-bg)}',
    '.tone-bad{--tone:var(--bad);--tone-bg:var(--bad-bg)}',
    '.lmw-top{display:flex;align-items:center;gap:8px}',
    '.lmw-badge{display:inline-flex;align-items:center;gap:6px;padding:3px 10px 3px 8px;border-radius:999px;',
    'font-size:12px;font-weight:650;letter-spacing:.02em;color:var(--tone);background:var(--tone-bg)}',
    '.lmw-dot{width:7px;height:7px;border-radius:50%;background:currentColor}',
    '.lmw-top .lm-pill{margin-left:auto}',
    '.lmw-headline{margin:10px 0 2px;font-size:19px;font-weight:700;line-height:1.25;letter-spacing:-.01em}',
    '.lmw-eta{margin:0;color:var(--muted)}',
    '.lmw-steps{list-style:none;margin:14px 0 2px;padding:0;display:grid;grid-template-columns:repeat(4,1fr);gap:5px}',
    '.lmw-steps li{font-size:11px;line-height:1.25;color:var(--muted)}',
    '.lmw-steps li::before{content:"";display:block;height:4px;border-radius:2px;background:var(--line);margin:0 0 6px}',
    '.lmw-steps .done::before,.lmw-steps .current::before,.lmw-steps .problem::before{background:var(--tone)}',
    '.lmw-steps .current,.lmw-steps .problem{color:var(--ink);font-weight:650}',
    '.lmw-live{margin:14px -16px 0}',
    '.lmw-live .lm-map{height:200px;border-top:1px solid var(--line)}',
    '.lmw-driver{margin:0;padding:10px 16px 0;font-size:13px;color:var(--muted)}',
    '.lmw-driver.lm-stale-text{color:var(--warn)}',
    '.lmw-events{list-style:none;margin:14px 0 0;padding:12px 0 0;border-top:1px solid var(--line)}',
    '.lmw-events li{position:relative;padding:0 0 10px 18px}',
    '.lmw-events li:last-child{padding-bottom:0}',
    '.lmw-events li::before{content:"";position:absolute;left:0;top:5px;width:9px;height:9px;border-radius:50%;',
    'border:2px solid #b7bfcc;background:var(--card)}',
    '.lmw-events li:first-child::before{border-color:var(--tone);background:var(--tone)}',
    '.lmw-events li::after{content:"";position:absolute;left:4px;top:16px;bottom:-3px;width:1px;background:var(--line)}',
    '.lmw-events li:last-child::after{display:none}',
    '.lmw-label{display:block;font-weight:600;font-size:13px}',
    '.lmw-meta{display:block;font-size:12px;color:var(--muted)}',
    '.lmw-foot{margin:12px 0 0;font-size:11px;color:var(--muted);display:flex;justify-content:space-between;gap:8px}',
    '.lmw-mono{font-family:ui-monospace,"SF Mono",Menlo,Consolas,monospace}',
    '.lmw-msg{margin:0;display:flex;align-items:center;gap:10px;color:var(--muted)}',
    '.lmw-msg::before{content:"i";flex:none;width:22px;height:22px;border-radius:50%;display:grid;place-items:center;',
    'font:700 12px/1 Georgia,serif;color:var(--neutral);background:var(--neutral-bg)}',
    '.lmw-gone{margin:12px 0 0;padding:10px 12px;border-radius:10px;background:var(--neutral-bg);font-weight:600}',
  ].join('');

  var adoptable = 'adoptedStyleSheets' in Document.prototype && 'replaceSync' in CSSStyleSheet.prototype;
  var pending = {}; // url -> Promise, shared by every widget on the page
  var ownSheet = null;

  function findScript() {
    var all = document.getElementsByTagName('script');
    for (var i = all.length - 1; i >= 0; i--) {
      if (/\/widget\.js(?:[?#]|$)/.test(all[i].src)) return all[i];
    }
    return null;
  }

  function once(url, make) {
    return pending[url] || (pending[url] = make());
  }

  function loadScript(url) {
    return once(url, function () {
      return new Promise(function (resolve, reject) {
        var tag = document.createElement('script');
        tag.src = url;
        tag.async = true;
        tag.onload = resolve;
        tag.onerror = reject;
        (document.head || document.documentElement).appendChild(tag);
      });
    });
  }

  /** Leaflet from the gateway; its globals (`L`, `leaflet`) are restored right after it runs. */
  function loadLeaflet(url) {
    return once(url + '#lib', function () {
      var had = 'leaflet' in window;
      var before = window.leaflet;
      return loadScript(url).then(function () {
        var lib = window.L;
        if (!lib || !lib.map) throw new Error('Leaflet did not load');
        lib.noConflict(); // puts back whatever `L` the page had
        if (window.L === undefined) delete window.L;
        if (had) window.leaflet = before;
        else delete window.leaflet;
        return lib;
      });
    });
  }

  /** A stylesheet for shadow roots, fetched once; without constructable sheets, a <link>. */
  function externalSheet(url) {
    if (!adoptable) return Promise.resolve(url);
    return once(url, function () {
      return fetch(url, { credentials: 'omit' }).then(function (response) {
        if (!response.ok) throw new Error('stylesheet ' + response.status);
        return response.text();
      }).then(function (text) {
        var sheet = new CSSStyleSheet({ baseURL: url });
        sheet.replaceSync(text);
        return sheet;
      });
    });
  }

  function style(shadow, sheets) {
    if (adoptable) {
      ownSheet = ownSheet || new CSSStyleSheet();
      if (!ownSheet.cssRules.length) ownSheet.replaceSync(CSS);
      shadow.adoptedStyleSheets = sheets.concat([ownSheet]); // ours last: it wins ties
      return;
    }
    sheets.forEach(function (url) {
      var link = document.createElement('link');
      link.rel = 'stylesheet';
      link.href = url;
      shadow.insertBefore(link, shadow.firstChild);
    });
    if (!shadow.querySelector('style')) {
      var tag = document.createElement('style'); // needs style-src 'unsafe-inline' (old Safari only)
      tag.textContent = CSS;
      shadow.appendChild(tag);
    }
  }

  function h(tag, cls, text, parent) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function pick(lang) {
    return TEXT[String(lang || '').slice(0, 2).toLowerCase()] || TEXT.en;
  }

  ns.widget = { version: VERSION, scan: scan };

  function scan() {
    var hosts = document.querySelectorAll('[data-lastmile-shipment][data-token]');
    for (var i = 0; i < hosts.length; i++) mount(hosts[i]);
  }

  function mount(host) {
    if (host.shadowRoot) return; // rendered already (by this copy or another)
    var shadow;
    try {
      shadow = host.attachShadow({ mode: 'open' });
    } catch (err) {
      return; // an element that cannot host a shadow root, or one already taken
    }
    view(host, shadow, host.getAttribute('data-token'));
  }

  /** One widget: fetch the status, render it, then follow the live stream. */
  function view(host, shadow, token) {
    var t = pick(host.getAttribute('data-lang') || document.documentElement.lang || navigator.language);
    var theme = host.getAttribute('data-theme');
    var urls = {
      status: BASE + '/widget/' + encodeURIComponent(token) + '/status',
      live: BASE + '/widget/' + encodeURIComponent(token) + '/live',
    };
    var box = h('div', 'lm-w' + (theme === 'dark' ? ' lmw-dark' : theme === 'auto' ? ' lmw-auto' : ''));
    box.setAttribute('part', 'widget');
    box.setAttribute('lang', t === TEXT.es ? 'es' : 'en');
    style(shadow, []);
    shadow.appendChild(box);
    var parts = null; // the rendered card's elements, once there is a status
    var map = null;
    var current = {}; // the newest `live` object: a map created late starts from it
    var retries = 0;
    var staticUrl = script.src.replace(/[^/]*$/, ''); // until the status names the versioned path
    var tiles = { url: OSM_TILES, attribution: OSM_ATTRIBUTION };

    function message(text) {
      parts = null;
      box.textContent = '';
      h('p', 'lmw-msg', text, box).setAttribute('role', 'status');
    }

    function load() {
      fetch(urls.status, { credentials: 'omit', cache: 'no-store', headers: { Accept: 'application/json' } })
        .then(function (response) {
          if (REFUSED.indexOf(response.status) >= 0) return 'refused';
          if (!response.ok) throw new Error('status ' + response.status);
          return response.json();
        })
        .then(function (status) {
          if (status === 'refused') return message(t.unavailable);
          var assets = status.assets || {};
          if (assets.static_url) staticUrl = new URL(assets.static_url, BASE + '/').href;
          tiles = { url: assets.tiles || OSM_TILES, attribution: assets.attribution || OSM_ATTRIBUTION };
          render(status);
          return follow();
        })
        .catch(function () {
          message(t.offline);
          setTimeout(load, Math.min(300000, 15000 * Math.pow(2, retries++)));
        });
    }

    function skeleton() {
      box.textContent = '';
      var p = {};
      var top = h('div', 'lmw-top', '', box);
      p.badge = h('span', 'lmw-badge', '', top);
      h('span', 'lmw-dot', '', p.badge).setAttribute('aria-hidden', 'true');
      p.badgeText = h('span', '', '', p.badge);
      p.pill = h('span', 'lm-pill', '', top);
      p.pill.hidden = true;
      p.headline = h('p', 'lmw-headline', '', box);
      p.eta = h('p', 'lmw-eta', '', box);
      p.steps = h('ol', 'lmw-steps', '', box);
      p.steps.setAttribute('aria-label', t.progress);
      p.live = h('div', 'lmw-live', '', box);
      p.live.hidden = true;
      p.map = h('div', 'lm-map', '', p.live);
      p.map.setAttribute('role', 'region');
      p.map.setAttribute('aria-label', t.map);
      p.driver = h('p', 'lmw-driver', '', p.live);
      p.events = h('ol', 'lmw-events', '', box);
      var foot = h('p', 'lmw-foot', '', box);
      p.store = h('span', '', '', foot);
      p.number = h('span', 'lmw-mono', '', foot);
      return p;
    }

    function render(s) {
      parts = parts || skeleton();
      if (s.locale) {
        t = pick(s.locale);
        box.setAttribute('lang', s.locale);
      }
      box.className = box.className.replace(/\btone-[a-z]+\b/g, '').trim() + ' tone-' + (s.tone || 'neutral');
      parts.badgeText.textContent = s.badge || '';
      parts.headline.textContent = s.headline || '';
      var live = s.live || {};
      parts.eta.textContent = live.eta_text || s.summary || '';
      parts.eta.hidden = !parts.eta.textContent;
      parts.steps.textContent = '';
      (s.steps || []).forEach(function (step) {
        var item = h('li', step.state, step.label, parts.steps);
        if (step.state === 'current' || step.state === 'problem') item.setAttribute('aria-current', 'step');
      });
      parts.events.textContent = '';
      (s.events || []).slice(0, 3).forEach(function (e) {
        var item = h('li', '', '', parts.events);
        h('span', 'lmw-label', e.label, item);
        var when = [e.local_day, e.local_time].filter(Boolean).join(' ');
        h('span', 'lmw-meta', [when, e.location].filter(Boolean).join(' · '), item);
      });
      parts.events.hidden = !parts.events.firstChild;
      parts.store.textContent = (s.store && s.store.name) || '';
      parts.number.textContent = [s.carrier, s.tracking_number].filter(Boolean).join(' ');
      showLive(live, false);
      parts.zone = s.timezone;
      parts.locale = s.locale;
    }

    function driverLine(pos) {
      parts.driver.textContent = ns.driverText ? ns.driverText(pos, t, parts.locale, parts.zone) : (pos && pos.label) || '';
      parts.driver.classList.toggle('lm-stale-text', !!(pos && pos.stale));
    }

    /** The map appears while a driver is on the way; Leaflet loads only then. */
    function showLive(live, moving) {
      current = live;
      if (!parts) return;
      parts.live.hidden = !live.driver;
      if (!live.driver) return;
      driverLine(live.driver);
      if (map) {
        if (moving) map.move(live.driver);
        else map.update(live);
        return;
      }
      if (!ns.createMap) return; // live.js not there yet: follow() shows the map once it is
      parts.map.classList.add('lm-on');
      loadLeaflet(staticUrl + 'vendor/leaflet/leaflet.js').then(function (L) {
        if (map || !parts || !current.driver) return;
        map = ns.createMap(L, parts.map, {
          tiles: tiles.url,
          attribution: tiles.attribution,
          titles: { driver: t.driver, destination: t.destination },
        });
        map.update(current);
      }).catch(function () {
        if (parts) parts.map.classList.remove('lm-on'); // the driver line still says where
      });
    }

    function follow() {
      var sheets = [staticUrl + 'vendor/leaflet/leaflet.css', staticUrl + 'live.css'];
      return Promise.all([loadScript(staticUrl + 'live.js')].concat(sheets.map(externalSheet)))
        .then(function (loaded) {
          style(shadow, loaded.slice(1));
          showLive(current, false);
          var last = null;
          ns.follow({
            liveUrl: urls.live,
            statusUrl: urls.status,
            credentials: 'omit',
            onState: function (s) { last = s; render(s); },
            onPosition: function (pos) {
              var live = (last && last.live) || {};
              live.driver = pos;
              showLive(live, true);
            },
            onGone: function (data) {
              if (map) { map.destroy(); map = null; }
              if (parts) { parts.live.hidden = true; parts.pill.hidden = true; }
              h('p', 'lmw-gone', data.text || t.gone, box).setAttribute('role', 'status');
            },
            onConnection: function (state) {
              if (!parts) return;
              parts.pill.hidden = false;
              parts.pill.classList.toggle('lm-reconnecting', state !== 'live');
              parts.pill.textContent = state === 'live' ? t.live : t.reconnecting;
            },
          });
        })
        .catch(function () { /* no live assets: the widget keeps the status it shows */ });
    }

    message(t.loading);
    load();
  }

  scan();
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', scan);
})();
