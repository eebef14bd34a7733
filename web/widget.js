/*!
 * Eczema medicines chat widget. One tag embeds it on any page:
 *
 *   <script src="https://BOT-HOST/widget.js" async
 *           data-title="Ask about eczema medicines" data-accent="#1d5fa8"
 *           data-position="right" data-greeting="Hello!" data-phone="555-0100"></script>
 *
 * It finds its server from its own src, talks to BOT-HOST/ws over a websocket,
 * and renders inside a Shadow DOM so the page's CSS and the widget's CSS never
 * meet. Every piece of server text is inserted with textContent, never as HTML.
 * Protocol: docs/protocol.md. Embedding guide: docs/widget.md.
 */
(function () {
  'use strict';

  // ---- 1. Settings: from the script tag's data-* attributes, with defaults ----

  var script = document.currentScript ||
    document.querySelector('script[src$="/widget.js"], script[src*="/widget.js?"]');
  if (!script || window.__eczemaChatWidget) return; // one widget per page
  window.__eczemaChatWidget = true;

  var data = script.dataset;
  var BASE = new URL('.', script.src).href;          // https://BOT-HOST/ (or a sub-path)
  var WS_URL = BASE.replace(/^http/, 'ws') + 'ws';    // http->ws, https->wss
  var settings = {
    title: data.title || 'Ask about eczema medicines',
    accent: data.accent || '#1d5fa8',
    position: data.position === 'left' ? 'left' : 'right',
    greeting: data.greeting || '',                    // replaces the server's welcome text
    phone: data.phone || ''                           // the clinic's own number, shown as a tel: link
  };
  var STORE_KEY = 'ecw:v1:' + BASE;                   // sessionStorage: this tab, this bot
  var MAX_ENTRIES = 100;
  var LABELS = {
    emergency: 'Emergency \u2014 get help now',
    crisis: 'You are not alone \u2014 help is available now'
  };
  var ERROR_TEXT = {
    rate_limited: 'You are sending messages very quickly. Please wait a few seconds, then try again.'
  };

  // ---- 2. Styles: all classes start with "ecw-"; :host resets what the page would pass down ----

  var STYLES = [
    ':host{all:initial}',
    '[hidden]{display:none!important}',
    '.ecw-root{--ecw-accent:#1d5fa8;--ecw-on-accent:#fff;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1a1a}',
    '.ecw-sr{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}',
    '.ecw-launcher{position:fixed;bottom:20px;right:20px;z-index:2147483000;width:60px;height:60px;border:0;border-radius:50%;',
    '  background:var(--ecw-accent);color:var(--ecw-on-accent);box-shadow:0 4px 14px rgba(0,0,0,.3);cursor:pointer;display:grid;place-items:center}',
    '.ecw-launcher svg{width:30px;height:30px;fill:currentColor}',
    '.ecw-left .ecw-launcher{right:auto;left:20px}',
    'button:focus-visible,input:focus-visible,a:focus-visible,.ecw-log:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}',
    '.ecw-panel{position:fixed;bottom:92px;right:20px;z-index:2147483001;width:min(390px,calc(100vw - 40px));',
    '  height:min(620px,calc(100vh - 112px));display:flex;flex-direction:column;background:#fff;border-radius:14px;',
    '  box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden;animation:ecw-in .18s ease-out}',
    '.ecw-left .ecw-panel{right:auto;left:20px}',
    '@keyframes ecw-in{from{opacity:0;transform:translateY(12px)}to{opacity:1;transform:none}}',
    '.ecw-header{display:flex;align-items:center;gap:8px;padding:10px 10px 10px 16px;background:var(--ecw-accent);color:var(--ecw-on-accent)}',
    '.ecw-title{flex:1;margin:0;font-size:16px;font-weight:600}',
    '.ecw-header button{font:inherit;font-size:14px;color:inherit;background:transparent;border:1px solid currentColor;border-radius:8px;padding:5px 10px;cursor:pointer}',
    '.ecw-close{font-size:20px!important;line-height:1;padding:3px 9px!important}',
    '.ecw-status{margin:0;padding:6px 16px;background:#fff4ce;color:#3d3100;font-size:13px}',
    '.ecw-status:empty{display:none}',
    '.ecw-log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px;background:#f5f6f8}',
    '.ecw-msg{max-width:88%;padding:9px 12px;border-radius:12px;white-space:pre-line;overflow-wrap:anywhere}',
    '.ecw-msg p{margin:0}',
    '.ecw-user{align-self:flex-end;background:var(--ecw-accent);color:var(--ecw-on-accent);border-bottom-right-radius:4px}',
    '.ecw-bot{align-self:flex-start;background:#fff;border:1px solid #dcdfe4;border-bottom-left-radius:4px}',
    '.ecw-notice{align-self:center;background:#eef0f3;color:#333;font-size:13px;text-align:center}',
    '.ecw-source{margin-top:6px!important;font-size:13px;color:#333}',
    '.ecw-source cite{font-style:italic}',
    '.ecw-disclaimer{margin-top:6px!important;font-size:12px;color:#555}',
    '.ecw-urgent{max-width:100%;border:2px solid #b00020;border-left-width:8px;background:#fff0f1;color:#2b0006}',
    '.ecw-crisis{border-color:#5b2a86;background:#f6f0fb;color:#1f0c33}',
    '.ecw-alert-label{display:block;font-weight:700;font-size:16px;margin-bottom:4px!important;color:#b00020}',
    '.ecw-crisis .ecw-alert-label{color:#5b2a86}',
    '.ecw-tel{display:inline-block;margin:2px 0;padding:2px 10px;border-radius:8px;background:#b00020;color:#fff;font-weight:700;text-decoration:underline}',
    '.ecw-crisis .ecw-tel{background:#5b2a86}',
    '.ecw-chips{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px;white-space:normal}',
    '.ecw-chip{font:inherit;font-size:14px;text-align:left;color:#1a1a1a;background:#fff;border:1.5px solid var(--ecw-accent);border-radius:16px;padding:5px 12px;cursor:pointer}',
    '.ecw-chip:hover{background:#eef3fa}',
    '.ecw-typing{display:flex;align-items:center;gap:6px;padding:4px 16px;font-size:13px;color:#444;background:#f5f6f8}',
    '.ecw-dot{width:7px;height:7px;border-radius:50%;background:#666;animation:ecw-bounce 1s infinite ease-in-out}',
    '.ecw-dot:nth-child(2){animation-delay:.15s}.ecw-dot:nth-child(3){animation-delay:.3s}',
    '@keyframes ecw-bounce{0%,80%,100%{transform:translateY(0)}40%{transform:translateY(-5px)}}',
    '.ecw-form{display:flex;gap:8px;padding:10px;border-top:1px solid #dcdfe4;background:#fff}',
    '.ecw-input{flex:1;min-width:0;font:inherit;font-size:16px;padding:9px 12px;border:1.5px solid #767676;border-radius:10px;color:#1a1a1a;background:#fff}',
    '.ecw-send{font:inherit;font-size:15px;font-weight:600;padding:0 16px;border:0;border-radius:10px;background:var(--ecw-accent);color:var(--ecw-on-accent);cursor:pointer}',
    '.ecw-input:disabled,.ecw-send:disabled{opacity:.6;cursor:not-allowed}',
    '.ecw-footer{margin:0;padding:0 12px 8px;font-size:12px;color:#555;background:#fff}',
    '.ecw-footer:empty{display:none}',
    '.ecw-footer a{color:#0b4a8b}',
    // Phones, and desktops at 200% zoom: the panel takes the whole screen.
    '@media (max-width:479.98px),(max-height:460px){.ecw-panel,.ecw-left .ecw-panel{inset:0;width:100%;height:100%;border-radius:0}',
    '  .ecw-msg{max-width:94%}}',
    '@media (prefers-reduced-motion:reduce){.ecw-panel,.ecw-dot{animation:none}}'
  ].join('\n');

  var SKELETON =
    '<div class="ecw-root">' +
    '<button class="ecw-launcher" type="button" aria-expanded="false" aria-controls="ecw-panel">' +
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z"/></svg>' +
    '</button>' +
    '<section class="ecw-panel" id="ecw-panel" role="dialog" aria-labelledby="ecw-title" hidden>' +
    '<div class="ecw-header"><h2 class="ecw-title" id="ecw-title"></h2>' +
    '<button class="ecw-new" type="button">New chat</button>' +
    '<button class="ecw-close" type="button" aria-label="Close chat">\u00d7</button></div>' +
    '<p class="ecw-status" role="status"></p>' +
    '<div class="ecw-log" role="log" aria-live="polite" aria-label="Conversation" tabindex="0"></div>' +
    '<div class="ecw-typing" role="status" hidden><span class="ecw-dot" aria-hidden="true"></span>' +
    '<span class="ecw-dot" aria-hidden="true"></span><span class="ecw-dot" aria-hidden="true"></span>' +
    '<span>Looking up an answer\u2026</span></div>' +
    '<form class="ecw-form"><label class="ecw-sr" for="ecw-input">Your question</label>' +
    '<input class="ecw-input" id="ecw-input" type="text" maxlength="500" autocomplete="off" enterkeyhint="send" ' +
    'placeholder="Type your question\u2026">' +
    '<button class="ecw-send" type="submit">Send</button></form>' +
    '<p class="ecw-footer"></p>' +
    '</section></div>';

  // ---- 3. State: what survives a page navigation in this tab (sessionStorage) ----

  // entries: the transcript, as plain data ({who: "user"|"bot"|"notice", ...});
  // pending: questions sent (or to be sent) that have no reply yet, re-sent after a reconnect;
  // context: the engine's opaque conversation context, handed back so follow-ups still work.
  var state = load() || { entries: [], pending: [], context: null, welcome: null, open: false };

  function load() {
    try {
      var saved = JSON.parse(sessionStorage.getItem(STORE_KEY));
      return saved && Array.isArray(saved.entries) ? saved : null;
    } catch (e) {
      return null; // storage disabled or corrupt: start fresh
    }
  }

  function save() {
    state.entries = state.entries.slice(-MAX_ENTRIES);
    try { sessionStorage.setItem(STORE_KEY, JSON.stringify(state)); } catch (e) { /* private mode: memory only */ }
  }

  // ---- 4. The DOM: built once inside a shadow root ----

  var host, root, ui = {};

  function build() {
    host = document.createElement('div');
    host.id = 'eczema-chat-widget';
    var shadow = host.attachShadow({ mode: 'open' });
    // A constructed stylesheet is not blocked by a page's strict CSP (style-src without 'unsafe-inline').
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLES);
      shadow.adoptedStyleSheets = [sheet];
    } catch (e) {
      var style = document.createElement('style');
      style.textContent = STYLES;
      shadow.appendChild(style);
    }
    var tpl = document.createElement('template');
    tpl.innerHTML = SKELETON; // static markup of our own; no server or page text in it
    shadow.appendChild(tpl.content);
    root = shadow.querySelector('.ecw-root');
    ['launcher', 'panel', 'title', 'new', 'close', 'status', 'log', 'typing', 'form', 'input', 'send', 'footer']
      .forEach(function (name) { ui[name] = shadow.querySelector('.ecw-' + name); });

    if (settings.position === 'left') root.classList.add('ecw-left');
    ui.title.textContent = settings.title;
    ui.launcher.setAttribute('aria-label', 'Open chat: ' + settings.title);
    if (settings.phone) {
      ui.footer.append('Questions about your own care? Call the clinic: ', telLink(settings.phone, 'ecw-footer-tel'));
    }
    document.body.appendChild(host);
    applyAccent(settings.accent);

    ui.launcher.addEventListener('click', function () { state.open ? close() : open(); });
    ui.close.addEventListener('click', close);
    ui.new.addEventListener('click', newChat);
    ui.form.addEventListener('submit', function (e) {
      e.preventDefault();
      ask(ui.input.value);
    });
    shadow.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && state.open) { e.stopPropagation(); close(); }
    });
  }

  /** The accent colours the header, launcher and user bubbles; text on it is black or white, whichever reads. */
  function applyAccent(accent) {
    if (!window.CSS || !window.CSS.supports('color', accent)) return;
    root.style.setProperty('--ecw-accent', accent);
    var probe = getComputedStyle(ui.launcher).backgroundColor.match(/\d+(\.\d+)?/g);
    if (!probe) return;
    var lum = probe.slice(0, 3).map(function (v) {
      v = v / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    var L = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2];
    // contrast with white vs with near-black (#1a1a1a, luminance ~0.01)
    root.style.setProperty('--ecw-on-accent', 1.05 / (L + 0.05) >= (L + 0.05) / 0.06 ? '#fff' : '#1a1a1a');
  }

  // ---- 5. Rendering the transcript ----

  function render() {
    ui.log.replaceChildren.apply(ui.log, state.entries.map(entryElement));
    ui.typing.hidden = state.pending.length === 0 || unavailable;
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  function append(entry) {
    state.entries.push(entry);
    save();
    var el = entryElement(entry);
    ui.log.appendChild(el);
    // A long answer is read from its top; a short one just scrolls the log to the end.
    ui.log.scrollTop = el.offsetHeight > ui.log.clientHeight
      ? el.offsetTop - ui.log.offsetTop - 8 : ui.log.scrollHeight;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }

  function entryElement(entry) {
    if (entry.who === 'user') return el('div', 'ecw-msg ecw-user', entry.text);
    if (entry.who === 'notice') return el('div', 'ecw-msg ecw-notice', entry.text);

    var kind = entry.kind || 'answer';
    var urgent = kind === 'emergency' || kind === 'crisis';
    var box = el('div', 'ecw-msg ecw-bot ecw-kind-' + kind + (urgent ? ' ecw-urgent ecw-' + kind : ''));
    box.dataset.kind = kind;
    if (urgent) {
      box.setAttribute('role', 'alert');
      box.appendChild(el('p', 'ecw-alert-label', LABELS[kind]));
    }
    var text = el('p', 'ecw-text');
    if (urgent) appendWithPhoneLinks(text, entry.text || '');
    else text.textContent = entry.text || '';
    box.appendChild(text);

    var src = entry.source;
    if (src && src.section) {
      var source = el('p', 'ecw-source', 'From the article: ');
      source.appendChild(el('cite', null, '\u201c' + src.section + '\u201d'));
      if (src.author) source.append(' \u2014 ' + src.author);
      box.appendChild(source);
    }
    if (entry.disclaimer) box.appendChild(el('p', 'ecw-disclaimer', entry.disclaimer));
    if (entry.suggestions && entry.suggestions.length) box.appendChild(chips(entry.suggestions));
    return box;
  }

  function chips(suggestions) {
    var group = el('div', 'ecw-chips');
    group.setAttribute('role', 'group');
    group.setAttribute('aria-label', 'Suggested questions');
    suggestions.forEach(function (question) {
      var chip = el('button', 'ecw-chip', question);
      chip.type = 'button';
      chip.addEventListener('click', function () { ask(question); });
      group.appendChild(chip);
    });
    return group;
  }

  // Phone numbers such as 911, 988 or 1-800-222-1222 (three or more digits) become tel: links.
  var PHONE = /\+?\(?\d[\d().-]*\d/g;

  function appendWithPhoneLinks(parent, text) {
    var last = 0, match;
    PHONE.lastIndex = 0;
    while ((match = PHONE.exec(text))) {
      if (match[0].replace(/\D/g, '').length < 3) continue;
      parent.append(text.slice(last, match.index), telLink(match[0], 'ecw-tel'));
      last = match.index + match[0].length;
    }
    parent.append(text.slice(last));
  }

  function telLink(number, className) {
    var a = el('a', className, number);
    a.href = 'tel:' + number.replace(/[^\d+]/g, '');
    return a;
  }

  // ---- 6. Open, close, new chat ----

  function open() {
    state.open = true;
    save();
    ui.panel.hidden = false;
    ui.launcher.setAttribute('aria-expanded', 'true');
    ui.launcher.setAttribute('aria-label', 'Close chat: ' + settings.title);
    ui.log.scrollTop = ui.log.scrollHeight;
    if (!unavailable) ui.input.focus();
    connect();
  }

  function close() {
    state.open = false;
    save();
    ui.panel.hidden = true;
    ui.launcher.setAttribute('aria-expanded', 'false');
    ui.launcher.setAttribute('aria-label', 'Open chat: ' + settings.title);
    ui.launcher.focus();
  }

  function newChat() {
    state.entries = [];
    state.pending = [];
    state.context = null;
    if (state.welcome) state.entries.push(welcomeEntry(state.welcome));
    save();
    send({ type: 'reset' });
    render();
    ui.input.focus();
  }

  function welcomeEntry(w) {
    return { who: 'bot', kind: 'welcome', text: settings.greeting || w.text,
             disclaimer: w.disclaimer, suggestions: w.suggestions || [] };
  }

  // ---- 7. Asking ----

  function ask(text) {
    text = String(text).trim();
    if (!text || unavailable) return;
    var question = { id: 'q' + Date.now().toString(36) + Math.random().toString(36).slice(2, 8), text: text };
    ui.input.value = '';
    append({ who: 'user', text: text });
    state.pending.push(question);
    save();
    ui.typing.hidden = false;
    if (!sendAsk(question)) connect(); // offline: it goes out when the connection opens
  }

  function sendAsk(q) {
    var frame = { type: 'ask', id: q.id, text: q.text };
    if (state.context != null) frame.context = state.context;
    return send(frame);
  }

  // ---- 8. The connection: reconnect with backoff and jitter; detect a refused origin ----

  var ws = null, attempts = 0, timer = null, unavailable = false;

  function send(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
    if (ws || timer || unavailable) return;
    var opened = false;
    setStatus(attempts ? 'Connection lost. Reconnecting\u2026' : 'Connecting\u2026');
    try {
      ws = new WebSocket(WS_URL);
    } catch (e) {
      ws = null;
      return failed(false);
    }
    ws.onopen = function () {
      opened = true;
      attempts = 0;
      setStatus('');
      state.pending.forEach(sendAsk); // questions the last connection never answered
    };
    ws.onmessage = function (e) {
      var msg;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      if (msg && typeof msg === 'object') receive(msg);
    };
    ws.onclose = function () {
      ws = null;
      failed(opened);
    };
  }

  /**
   * The browser hides why a websocket failed. A server that refuses this page's origin answers
   * the upgrade with 403, and the same check guards its chat API: a CORS request there fails
   * while the widget's own script (served to every origin) still loads. Then the chat is not
   * allowed on this site: say so and stop, rather than retry forever. Otherwise retry.
   * The script is fetched before and after the API, so a server that is down for one of the
   * checks and back for the other (a restart) reads as down, never as refusing.
   */
  function failed(hadOpened) {
    if (!state.open && !state.pending.length) {
      // Nobody is waiting (an idle connection closed, panel shut): reconnect when the patient returns.
      attempts = 0;
      setStatus('');
      return;
    }
    if (hadOpened) return retry();
    var reachable = function (url, method) {
      return fetch(BASE + url, { method: method, cache: 'no-store' }).then(
        function () { return true; }, function () { return false; });
    };
    reachable('widget.js', 'HEAD').then(function (up) {
      return up && reachable('api/ask', 'OPTIONS').then(function (allowed) {
        return !allowed && reachable('widget.js', 'HEAD');
      });
    }).then(function (refused) {
      if (refused) showUnavailable(); else retry();
    });
  }

  function retry() {
    var delay = Math.min(30000, 500 * Math.pow(2, attempts));
    attempts += 1;
    setStatus('Connection lost. Reconnecting\u2026');
    timer = setTimeout(function () { timer = null; connect(); }, delay / 2 + Math.random() * delay / 2);
  }

  function showUnavailable() {
    unavailable = true;
    setStatus('');
    ui.typing.hidden = true;
    ui.input.disabled = true;
    ui.send.disabled = true;
    ui.new.disabled = true;
    var notice = 'Chat is not available on this site.';
    if (settings.phone) notice += ' Please call the clinic at ' + settings.phone + '.';
    ui.log.replaceChildren(el('div', 'ecw-msg ecw-notice ecw-unavailable', notice));
  }

  function setStatus(text) {
    if (ui.status.textContent !== text) ui.status.textContent = text;
  }

  // ---- 9. Frames from the server ----

  function receive(msg) {
    if (msg.type === 'welcome') {
      state.welcome = { text: msg.text, disclaimer: msg.disclaimer, suggestions: msg.suggestions };
      if (!state.entries.length) append(welcomeEntry(state.welcome));
      else save();
    } else if (msg.type === 'reply') {
      if (!settle(msg.id)) return; // a duplicate after a re-send: already shown
      if ('context' in msg) state.context = msg.context;
      append({ who: 'bot', kind: msg.kind, text: msg.text, disclaimer: msg.disclaimer,
               suggestions: msg.suggestions, source: msg.source });
    } else if (msg.type === 'error') {
      settle(msg.id);
      append({ who: 'notice', text: ERROR_TEXT[msg.code] || msg.message || 'Something went wrong. Please try again.' });
    }
  }

  /** Marks a question answered; false when it was not waiting for an answer. */
  function settle(id) {
    var before = state.pending.length;
    state.pending = state.pending.filter(function (q) { return q.id !== id; });
    ui.typing.hidden = state.pending.length === 0;
    save();
    return state.pending.length < before;
  }

  // ---- 10. Start ----

  function start() {
    build();
    render();
    if (state.open) {
      ui.panel.hidden = false;
      ui.launcher.setAttribute('aria-expanded', 'true');
      ui.launcher.setAttribute('aria-label', 'Close chat: ' + settings.title);
      ui.log.scrollTop = ui.log.scrollHeight;
    }
    if (state.open || state.pending.length) connect();
    window.addEventListener('online', function () {
      if (timer) { clearTimeout(timer); timer = null; connect(); }
    });
  }

  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start);
})();
