/*!
 * Eczema medicines chat widget. One tag embeds it on any page:
 *
 *   <script src="https://BOT-HOST/widget.js" async
 *           data-title="Ask about eczema medicines" data-accent="#1d5fa8"
 *           data-position="right" data-greeting="Hello!" data-phone="555-0100"
 *           data-emergency-number="911" data-crisis-line="988"></script>
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
    phone: data.phone || '',                          // the clinic's own number, shown as a tel: link
    // Shown when the server can't be reached, so they never depend on the server.
    emergencyNumber: /\d/.test(data.emergencyNumber || '') ? data.emergencyNumber : '911',
    crisisLine: /\d/.test(data.crisisLine || '') ? data.crisisLine : '988'
  };
  var STORE_KEY = 'ecw:v1:' + BASE;                   // sessionStorage: this tab, this bot
  var MAX_ENTRIES = 100;
  var LABELS = {
    emergency: 'Emergency \u2014 get help now',
    crisis: 'You are not alone \u2014 help is available now'
  };
  var ICONS = { emergency: '\u26a0', crisis: '\u2665' }; // a sign beside the words, so colour is not the only cue
  var CONNECT_TIMEOUT = 10000;                        // ms before a connection that never opens counts as failed
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
    '.ecw-launcher[aria-expanded=true] .ecw-icon-chat,.ecw-launcher[aria-expanded=false] .ecw-icon-close{display:none}',
    '.ecw-left .ecw-launcher{right:auto;left:20px}',
    // A reply that arrived while the panel was shut: a count on the button, in a ring so it shows on any accent.
    '.ecw-badge{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;box-sizing:border-box;border-radius:11px;',
    '  border:2px solid #fff;background:#b00020;color:#fff;font:700 12px/18px system-ui,sans-serif;text-align:center}',
    'button:focus-visible,textarea:focus-visible,a:focus-visible,.ecw-log:focus-visible{outline:3px solid #ffbf47;outline-offset:2px}',
    '.ecw-panel{position:fixed;bottom:92px;right:20px;z-index:2147483001;width:min(390px,calc(100vw - 40px));',
    '  height:min(620px,calc(100vh - 112px));display:flex;flex-direction:column;background:#fff;border-radius:14px;',
    '  box-shadow:0 8px 30px rgba(0,0,0,.3);overflow:hidden;animation:ecw-in .18s ease-out}',
    '.ecw-left .ecw-panel{right:auto;left:20px}',
    '@keyframes ecw-in{from{opacity:0;transform:translateY(12px)}to{opacity:1;transform:none}}',
    '.ecw-header{display:flex;align-items:center;gap:8px;padding:10px 10px 10px 16px;background:var(--ecw-accent);color:var(--ecw-on-accent)}',
    // The title has the header to itself but for the close button, so it stays on one line.
    '.ecw-title{flex:1;margin:0;font-size:16px;font-weight:600}',
    '.ecw-close{font:inherit;font-size:20px;line-height:1;color:inherit;background:transparent;border:1px solid currentColor;border-radius:8px;padding:3px 9px;cursor:pointer}',
    // The disclaimer, once: a compact line under the header that opens to the whole of it.
    '.ecw-about{padding:4px 16px;background:#eef0f3;color:#333;font-size:12px;border-bottom:1px solid #dcdfe4}',
    '.ecw-about summary{cursor:pointer;padding:2px 0}',
    '.ecw-about p{margin:2px 0 4px}',
    '.ecw-status{margin:0;padding:6px 16px;background:#fff4ce;color:#3d3100;font-size:13px}',
    '.ecw-status:empty{display:none}',
    // The safety notice: a dark block above the reply, with a sign and a heading naming the level.
    '.ecw-has-safety{max-width:100%}',
    '.ecw-safety{margin:0 0 10px;padding:10px 12px;border-radius:10px;background:#8e0016;color:#fff;white-space:normal}',
    '.ecw-safety-crisis{background:#4a1f70}',
    '.ecw-msg .ecw-safety p{margin:0 0 6px}',
    '.ecw-safety-label{font-size:16px;font-weight:700}',
    '.ecw-safety-icon{display:inline-block;margin-right:6px}',
    '.ecw-safety-links{display:flex;flex-wrap:wrap;gap:8px;margin-top:4px}',
    '.ecw-safety-link{display:inline-flex;align-items:center;min-height:44px;padding:0 16px;border-radius:10px;',
    '  border:2px solid #fff;background:#fff;color:#6b0011;font-size:16px;font-weight:700;text-decoration:none}',
    '.ecw-safety-crisis .ecw-safety-link{color:#4a1f70}',
    // Help while the chat can't be reached: the numbers come from the script tag, not the server.
    '.ecw-help{margin:0;padding:8px 16px 10px;background:#fff4ce;color:#3d3100;font-size:13px}',
    '.ecw-help-now{white-space:normal}',
    '.ecw-help-now .ecw-help-text{margin:0 0 6px}',
    '.ecw-notice .ecw-help-now{margin-top:8px}',
    '.ecw-notice .ecw-safety-links{justify-content:center}',
    '.ecw-help-now .ecw-safety-link{border-color:#8e0016;background:#8e0016;color:#fff;font-size:15px}',
    // overscroll-behavior: scrolling past the conversation's end doesn't scroll the page behind it.
    '.ecw-log{flex:1;overflow-y:auto;overscroll-behavior:contain;padding:12px;display:flex;flex-direction:column;gap:10px;background:#f5f6f8}',
    '.ecw-msg{max-width:88%;padding:9px 12px;border-radius:12px;white-space:pre-line;overflow-wrap:anywhere}',
    '.ecw-msg p{margin:0}',
    '.ecw-li{display:block;padding-left:1.1em;text-indent:-1.1em}',  // a bullet with a hanging indent
    '.ecw-li-mark{display:inline-block;width:1.1em;text-indent:0;white-space:pre}',
    '.ecw-user{align-self:flex-end;background:var(--ecw-accent);color:var(--ecw-on-accent);border-bottom-right-radius:4px}',
    '.ecw-bot{align-self:flex-start;background:#fff;border:1px solid #dcdfe4;border-bottom-left-radius:4px}',
    '.ecw-notice{align-self:center;background:#eef0f3;color:#333;font-size:13px;text-align:center}',
    '.ecw-source{margin-top:6px!important;font-size:13px;color:#333}',
    '.ecw-source cite{font-style:italic}',
    '.ecw-source a{color:#0b4a8b}',
    // The sentences or bullets that answer the question: a tint, and bold, so colour is not the only cue.
    '.ecw-hl{background:#fff0a8;color:inherit;font-weight:700;border-radius:3px;box-shadow:0 0 0 2px #fff0a8}',
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
    '.ecw-form{display:flex;align-items:flex-end;gap:8px;padding:10px;border-top:1px solid #dcdfe4;background:#fff}',
    // The box grows with a story up to about five lines, then scrolls.
    '.ecw-input{flex:1;min-width:0;font:inherit;font-size:16px;line-height:1.35;padding:9px 12px;border:1.5px solid #767676;border-radius:10px;color:#1a1a1a;background:#fff;box-sizing:border-box;resize:none;max-height:8.5em;overflow-y:auto}',
    '.ecw-send{font:inherit;font-size:15px;font-weight:600;min-height:44px;padding:0 16px;border:0;border-radius:10px;background:var(--ecw-accent);color:var(--ecw-on-accent);cursor:pointer}',
    '.ecw-input:disabled,.ecw-send:disabled{opacity:.6;cursor:not-allowed}',
    // The line that says a text pasted in was cut at the box's length.
    '.ecw-limit{margin:0;padding:0 12px 6px;font-size:13px;color:#6b3d00;background:#fff}',
    // New chat, Save chat and Print, under the input.
    '.ecw-tools{display:flex;flex-wrap:wrap;justify-content:flex-end;gap:8px;padding:0 10px 8px;background:#fff}',
    '.ecw-tools button{font:inherit;font-size:13px;min-height:32px;color:#1a1a1a;background:#fff;border:1px solid #767676;border-radius:8px;padding:2px 10px;cursor:pointer}',
    '.ecw-tools button:disabled{opacity:.6;cursor:not-allowed}',
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
    '<svg class="ecw-icon-close" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M5.3 8.3a1 1 0 0 1 1.4 0L12 13.6l5.3-5.3a1 1 0 1 1 1.4 1.4l-6 6a1 1 0 0 1-1.4 0l-6-6a1 1 0 0 1 0-1.4z"/></svg>' +
    '<svg class="ecw-icon-chat" viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z"/></svg>' +
    '<span class="ecw-badge" aria-hidden="true" hidden></span>' +
    '</button>' +
    '<p class="ecw-sr ecw-unread" role="status"></p>' +
    '<section class="ecw-panel" id="ecw-panel" role="dialog" aria-labelledby="ecw-title" hidden>' +
    '<div class="ecw-header"><h2 class="ecw-title" id="ecw-title"></h2>' +
    '<button class="ecw-close" type="button" aria-label="Close chat">\u00d7</button></div>' +
    '<details class="ecw-about" hidden><summary></summary><p></p></details>' +
    '<p class="ecw-status" role="status"></p>' +
    '<div class="ecw-help" hidden></div>' +
    '<div class="ecw-log" role="log" aria-live="polite" aria-label="Conversation" tabindex="0"></div>' +
    '<div class="ecw-typing" role="status" hidden><span class="ecw-dot" aria-hidden="true"></span>' +
    '<span class="ecw-dot" aria-hidden="true"></span><span class="ecw-dot" aria-hidden="true"></span>' +
    '<span>Looking up an answer\u2026</span></div>' +
    '<form class="ecw-form"><label class="ecw-sr" for="ecw-input">Your question</label>' +
    '<textarea class="ecw-input" id="ecw-input" rows="1" autocomplete="off" enterkeyhint="send" ' +
    'placeholder="Type your question\u2026"></textarea>' +
    '<button class="ecw-send" type="submit">Send</button></form>' +
    '<p class="ecw-limit" role="status" hidden></p>' + // its words and the box's length: setLimit
    '<div class="ecw-tools"><button class="ecw-new" type="button">New chat</button>' +
    '<button class="ecw-save" type="button" title="Save this conversation as a text file, to keep">Save chat</button>' +
    '<button class="ecw-print" type="button" title="Print this conversation, with its sources">Print</button></div>' +
    '<p class="ecw-footer"></p>' +
    '</section></div>';

  // ---- 3. State: what survives a page navigation in this tab (sessionStorage) ----

  // entries: the transcript, as plain data ({who: "user"|"bot"|"notice", ...});
  // pending: questions sent (or to be sent) that have no reply yet, re-sent after a reconnect;
  // context: the engine's opaque conversation context, handed back so follow-ups still work.
  // unread: replies that arrived while the panel was shut, shown on the chat button until it opens.
  var state = load() || { entries: [], pending: [], context: null, welcome: null, open: false, unread: 0 };

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
    addStyles(shadow, STYLES);
    var tpl = document.createElement('template');
    tpl.innerHTML = SKELETON; // static markup of our own; no server or page text in it
    shadow.appendChild(tpl.content);
    root = shadow.querySelector('.ecw-root');
    ['launcher', 'panel', 'title', 'new', 'close', 'about', 'status', 'help', 'log', 'typing', 'form', 'input', 'send', 'limit', 'tools', 'save', 'print', 'footer', 'badge', 'unread']
      .forEach(function (name) { ui[name] = shadow.querySelector('.ecw-' + name); });

    if (settings.position === 'left') root.classList.add('ecw-left');
    ui.title.textContent = settings.title;
    setLimit(); // the default until the server's welcome frame says its own
    ui.help.appendChild(helpNow());
    if (settings.phone) {
      ui.footer.append('Questions about your own care? Call the clinic: ', telLink(settings.phone, 'ecw-footer-tel'));
    }
    document.body.appendChild(host);
    applyAccent(settings.accent);

    ui.launcher.addEventListener('click', function () { state.open ? close() : open(); });
    ui.close.addEventListener('click', close);
    ui.new.addEventListener('click', newChat);
    ui.save.addEventListener('click', saveTranscript);
    ui.print.addEventListener('click', printTranscript);
    ui.form.addEventListener('submit', function (e) {
      e.preventDefault();
      ask(ui.input.value);
    });
    // Enter sends, as in any chat; Shift+Enter starts a new line (and an input method that is
    // still composing a word keeps its Enter).
    ui.input.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        ask(ui.input.value);
      }
    });
    ui.input.addEventListener('input', fitInput);
    // When a row above or below the log appears (status, help, typing), the log gets shorter:
    // if it was scrolled to its end, keep it there, so the last message is never covered.
    var atEnd = true;
    ui.log.addEventListener('scroll', function () {
      atEnd = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 24;
    });
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        if (atEnd) ui.log.scrollTop = ui.log.scrollHeight;
      }).observe(ui.log);
    }
    shadow.addEventListener('keydown', function (e) {
      if (e.key === 'Escape' && state.open) { e.stopPropagation(); close(); }
    });
  }

  /**
   * Adds a stylesheet to a shadow root or to the document, and returns a function that takes it
   * away. A constructed stylesheet is not blocked by a page's strict CSP (style-src without
   * 'unsafe-inline'); old browsers without one get a <style> element.
   */
  function addStyles(scope, css) {
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      scope.adoptedStyleSheets = scope.adoptedStyleSheets.concat([sheet]);
      return function () {
        scope.adoptedStyleSheets = scope.adoptedStyleSheets.filter(function (s) { return s !== sheet; });
      };
    } catch (e) {
      var style = el('style', null, css);
      (scope === document ? document.head || document.documentElement : scope).appendChild(style);
      return function () { style.remove(); };
    }
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
    showLatest();
  }

  function append(entry) {
    state.entries.push(entry);
    save();
    ui.log.appendChild(entryElement(entry));
    showLatest();
  }

  /**
   * Scrolls the log to its last message. One taller than the log (a long answer, the welcome on
   * a phone) is shown from its top, never with its top cut off under the header.
   */
  function showLatest() {
    var last = ui.log.lastElementChild;
    ui.log.scrollTop = last && last.offsetHeight > ui.log.clientHeight
      ? last.offsetTop - ui.log.offsetTop - 8 : ui.log.scrollHeight;
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
    if (entry.safety && typeof entry.safety === 'object') {
      // The person may be at risk: the notice comes first, above the reply, and is the alert.
      box.classList.add('ecw-has-safety');
      box.appendChild(safetyNotice(entry.safety));
    } else if (urgent) {
      box.setAttribute('role', 'alert');
      box.appendChild(el('p', 'ecw-alert-label', LABELS[kind]));
    }
    var text = el('p', 'ecw-text');
    if (urgent) appendWithPhoneLinks(text, entry.text || '');
    else appendWithBullets(text, entry.text || '');
    markHighlights(text, entry.text || '', entry.highlights);
    box.appendChild(text);

    var src = entry.source;
    if (src && src.section) {
      var source = el('p', 'ecw-source', 'From the article: ');
      var cite = el('cite', null, '\u201c' + src.section + '\u201d');
      var href = articleUrl(src.url);
      if (href) {
        var link = el('a', 'ecw-source-link');
        link.href = href;
        link.target = '_blank';
        link.rel = 'noopener';
        link.append(cite, el('span', 'ecw-sr', ' (opens in a new tab)'));
        source.appendChild(link);
      } else {
        source.appendChild(cite);
      }
      if (src.author) source.append(' \u2014 ' + src.author);
      box.appendChild(source);
    }
    // The usual disclaimer is shown once, in the welcome (and under the header), not under every
    // reply; a reply with a disclaimer of its own (a crisis reply's) shows that one.
    var usual = state.welcome && state.welcome.disclaimer;
    if (entry.disclaimer && (kind === 'welcome' || entry.disclaimer !== usual)) {
      box.appendChild(el('p', 'ecw-disclaimer', entry.disclaimer));
    }
    if (entry.suggestions && entry.suggestions.length) box.appendChild(chips(entry.suggestions));
    return box;
  }

  /**
   * The safety notice: {level: "crisis"|"emergency", text, links: [{label, href}]}. Its text and
   * labels go in as text; a link is kept only when its href is a tel: or sms: number.
   */
  function safetyNotice(safety) {
    var level = safety.level === 'emergency' ? 'emergency' : 'crisis';
    var notice = el('div', 'ecw-safety ecw-safety-' + level);
    notice.setAttribute('role', 'alert');
    notice.dataset.level = level;
    var label = el('p', 'ecw-safety-label');
    var icon = el('span', 'ecw-safety-icon', ICONS[level]);
    icon.setAttribute('aria-hidden', 'true');
    label.append(icon, LABELS[level]);
    notice.appendChild(label);
    if (safety.text) notice.appendChild(el('p', 'ecw-safety-text', safety.text));
    var links = el('div', 'ecw-safety-links');
    (Array.isArray(safety.links) ? safety.links : []).forEach(function (link) {
      if (link && SAFE_HREF.test(String(link.href))) {
        links.appendChild(actionLink(String(link.href), link.label || String(link.href).slice(4)));
      }
    });
    if (links.childNodes.length) notice.appendChild(links);
    return notice;
  }

  var SAFE_HREF = /^(tel|sms):\+?[\d\s().-]+$/i;

  function actionLink(href, label) {
    var a = el('a', 'ecw-safety-link', label);
    a.setAttribute('href', href);
    return a;
  }

  /** A server too old to send "safety" still gets a notice on its crisis and emergency replies. */
  function localSafety(kind) {
    if (kind === 'emergency') return { level: 'emergency', links: [emergencyLink()] };
    if (kind === 'crisis') return { level: 'crisis', links: crisisLinks() };
    return null;
  }

  function emergencyLink() {
    return { label: 'Call ' + settings.emergencyNumber, href: 'tel:' + dial(settings.emergencyNumber) };
  }

  function crisisLinks() {
    return [{ label: 'Call ' + settings.crisisLine, href: 'tel:' + dial(settings.crisisLine) },
            { label: 'Text ' + settings.crisisLine, href: 'sms:' + dial(settings.crisisLine) }];
  }

  function dial(number) {
    return String(number).replace(/[^\d+]/g, '');
  }

  /** "Need help now?" with the emergency number and the crisis line, for when the chat can't be reached. */
  function helpNow() {
    var help = el('div', 'ecw-help-now');
    help.appendChild(el('p', 'ecw-help-text', 'Need help now? In an emergency call ' + settings.emergencyNumber +
      '. If you are thinking about harming yourself, call or text ' + settings.crisisLine + '.'));
    var links = el('div', 'ecw-safety-links');
    [emergencyLink()].concat(crisisLinks()).forEach(function (link) {
      links.appendChild(actionLink(link.href, link.label));
    });
    help.appendChild(links);
    return help;
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

  /**
   * The article's page for a source: the server's base URL + source.url, which must be a path
   * ("/article/...") on the chat server. Anything else (another host, "//host", a scheme) gets no link.
   */
  function articleUrl(path) {
    if (typeof path !== 'string' || !/^\/[^\/\\]/.test(path)) return null;
    try {
      var url = new URL(path.slice(1), BASE).href;
      return url.indexOf(BASE) === 0 ? url : null;
    } catch (e) {
      return null;
    }
  }

  // "• item" lines become blocks with a hanging indent; the other lines keep their line breaks.
  // Every character of the text is kept, in order, so highlight offsets still fit it.
  var BULLET = /^\s*([\u2022\u25e6\u2023-])\s+/;

  function appendWithBullets(parent, text) {
    var lines = text.split('\n');
    lines.forEach(function (line, i) {
      var end = i < lines.length - 1 ? '\n' : ''; // a line break at the end of a block adds no line
      var bullet = BULLET.exec(line);
      if (bullet) {
        var item = el('span', 'ecw-li');
        item.append(el('span', 'ecw-li-mark', bullet[0]), line.slice(bullet[0].length) + end);
        parent.appendChild(item);
      } else {
        parent.append(line + end);
      }
    });
  }

  /**
   * Marks the parts of a reply that answer the question: `highlights` is [[start, end], ...],
   * offsets in Unicode code points (the engine's Python string indices) into `text`. Spans that
   * are not whole numbers, fall outside the text, are empty or overlap an earlier one are left
   * out. The text is only split and wrapped in <mark> elements, never changed.
   */
  function markHighlights(container, text, highlights) {
    if (!Array.isArray(highlights) || !highlights.length) return;
    var units = [0]; // units[n]: where code point n starts in the UTF-16 string
    for (var i = 0; i < text.length; i += text.codePointAt(i) > 0xffff ? 2 : 1) units.push(i);
    units.shift();
    units.push(text.length);
    var count = units.length - 1;
    var spans = highlights.filter(function (span) {
      return Array.isArray(span) && span.length === 2 && Number.isInteger(span[0]) &&
        Number.isInteger(span[1]) && span[0] >= 0 && span[0] < span[1] && span[1] <= count;
    }).sort(function (a, b) { return a[0] - b[0]; });
    var last = 0;
    spans.filter(function (span) {
      if (span[0] < last) return false; // overlaps the span before it
      last = span[1];
      return true;
    }).forEach(function (span) {
      wrapRange(container, units[span[0]], units[span[1]]);
    });
  }

  /** Wraps the text between two offsets of the container's textContent in a <mark>. */
  function wrapRange(container, start, end) {
    var walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT);
    var range = document.createRange(), seen = 0, node;
    while ((node = walker.nextNode())) {
      var length = node.data.length;
      if (start >= seen && start < seen + length) range.setStart(node, start - seen);
      if (end > seen && end <= seen + length) { range.setEnd(node, end - seen); break; }
      seen += length;
    }
    if (!node) return;
    // A mark that starts with a bullet's sign takes in the sign's element, so "• acne" is one mark;
    // it never takes in a whole line's block, which would move the line break.
    var widen = function (n) { return n !== container && !(n.classList && n.classList.contains('ecw-li')); };
    while (range.startOffset === 0 && widen(range.startContainer)) range.setStartBefore(range.startContainer);
    while (widen(range.endContainer) && range.endOffset === nodeLength(range.endContainer)) {
      range.setEndAfter(range.endContainer);
    }
    var mark = el('mark', 'ecw-hl');
    mark.appendChild(range.extractContents());
    range.insertNode(mark);
  }

  function nodeLength(node) {
    return node.nodeType === Node.TEXT_NODE ? node.data.length : node.childNodes.length;
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
    state.unread = 0;
    save();
    ui.panel.hidden = false;
    showLauncher();
    showLatest();
    if (!unavailable) focusInput();
    connect();
  }

  function close() {
    state.open = false;
    save();
    ui.panel.hidden = true;
    showLauncher();
    ui.launcher.focus();
  }

  /**
   * The chat button: open or shut, and how many replies came while the panel was shut (a count
   * on the button, in its label, and said once by a status message for screen readers).
   */
  function showLauncher(announce) {
    var n = state.open ? 0 : state.unread || 0;
    var unread = n ? ' (' + n + (n === 1 ? ' new reply)' : ' new replies)') : '';
    ui.launcher.setAttribute('aria-expanded', String(!!state.open));
    ui.launcher.setAttribute('aria-label', (state.open ? 'Close chat: ' : 'Open chat: ') + settings.title + unread);
    ui.badge.textContent = n > 9 ? '9+' : String(n);
    ui.badge.hidden = !n;
    if (announce && n) ui.unread.textContent = 'New reply in the chat: ' + n + ' unread.';
    if (!n) ui.unread.textContent = '';
  }

  function newChat() {
    state.entries = [];
    state.pending = [];
    state.context = null;
    if (state.welcome) state.entries.push(welcomeEntry(state.welcome));
    save();
    send({ type: 'reset' });
    render();
    focusInput();
  }

  /**
   * On a touch screen or a phone, focusing the input brings up the keyboard over the welcome:
   * focus goes to the conversation instead, and the patient taps the input when ready.
   */
  function focusInput() {
    if (window.matchMedia && window.matchMedia('(pointer: coarse), (max-width: 479.98px)').matches) {
      ui.log.focus({ preventScroll: true });
    } else {
      ui.input.focus();
    }
  }

  function welcomeEntry(w) {
    return { who: 'bot', kind: 'welcome', text: settings.greeting || w.text,
             disclaimer: w.disclaimer, suggestions: w.suggestions || [] };
  }

  // ---- 7. Saving and printing: the transcript, made in the browser; nothing is sent or stored ----

  function saveTranscript() {
    var now = new Date();
    var blob = new Blob([transcriptText(now)], { type: 'text/plain;charset=utf-8' });
    var a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = 'eczema-chat-' + now.toISOString().slice(0, 10) + '.txt';
    ui.tools.appendChild(a); // some browsers download only from a link in the document
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 10000);
  }

  /**
   * The conversation as plain data, the same for the file and the printout: each turn's speaker
   * ("You", "Chat", or none for a notice) and text, and for a reply its safety notice (each link
   * written out), its source (section, article, author and the article's address) and a
   * disclaimer of its own (the crisis reply's).
   */
  function turns() {
    var usual = state.welcome && state.welcome.disclaimer;
    return state.entries.map(function (entry) {
      if (entry.who !== 'bot') return { who: entry.who === 'user' ? 'You' : '', text: entry.text };
      var turn = { who: 'Chat', text: entry.text || '' };
      var safety = entry.safety && typeof entry.safety === 'object' ? entry.safety : null;
      var urgent = entry.kind === 'emergency' || entry.kind === 'crisis';
      if (safety || urgent) {
        var level = !safety ? entry.kind : safety.level === 'emergency' ? 'emergency' : 'crisis';
        var links = safety && Array.isArray(safety.links) ? safety.links : [];
        turn.alert = { level: level, label: LABELS[level], text: safety && safety.text || '',
          links: links.filter(function (link) { return link && SAFE_HREF.test(String(link.href)); })
            .map(function (link) { return (link.label || '') + ' (' + link.href + ')'; }) };
      }
      var src = entry.source;
      if (src && src.section) {
        turn.source = { url: articleUrl(src.url), cite: '\u201c' + src.section + '\u201d' +
          (src.title ? ', ' + src.title : '') + (src.author ? ' \u2014 ' + src.author : '') };
      }
      if (entry.disclaimer && entry.disclaimer !== usual && entry.kind !== 'welcome') turn.note = entry.disclaimer;
      return turn;
    });
  }

  /** The conversation as plain text: questions, replies, safety notices and their sources. */
  function transcriptText(now) {
    var lines = [settings.title, 'Saved ' + now.toLocaleString(), ''];
    turns().forEach(function (turn) {
      if (turn.alert) {
        lines.push('!! ' + turn.alert.label + (turn.alert.text ? ': ' + turn.alert.text : ''));
        turn.alert.links.forEach(function (link) { lines.push('!! ' + link); });
      }
      lines.push(turn.who ? turn.who + ': ' + turn.text : '(' + turn.text + ')');
      if (turn.source) lines.push('   From the article: ' + turn.source.cite);
      if (turn.source && turn.source.url) lines.push('   ' + turn.source.url);
      if (turn.note) lines.push('   ' + turn.note);
      lines.push('');
    });
    if (state.welcome && state.welcome.disclaimer) lines.push(state.welcome.disclaimer);
    return lines.join('\n') + '\n';
  }

  // The printout: while it prints, only it shows; the page, the chat included, is hidden.
  var PRINT_PAGE = '#eczema-chat-print{display:none}\n@media print{' +
    'body>:not(#eczema-chat-print){display:none!important}#eczema-chat-print{display:block!important}' +
    'html,body{height:auto!important;overflow:visible!important}}';
  var PRINT_STYLES = [
    ':host{all:initial;font:11pt/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#000}',
    'h1{margin:0;font-size:16pt}',
    'h2{margin:0;font-size:11pt;break-after:avoid}',
    'p{margin:0 0 4pt;white-space:pre-line;overflow-wrap:anywhere}',
    '.ecw-print-date{margin-bottom:12pt}',
    '.ecw-print-turn{margin-bottom:10pt}',
    '.ecw-print-notice{font-style:italic}',
    // No colour: browsers leave backgrounds out of print. A thick frame and bold type instead.
    '.ecw-print-alert{margin:2pt 0 6pt;padding:6pt 8pt;border:3pt solid #000;break-inside:avoid}',
    '.ecw-print-alert-label{font-size:13pt;font-weight:700}',
    '.ecw-print-source,.ecw-print-note{font-size:10pt}',
    '.ecw-print-disclaimer{margin-top:14pt;padding-top:6pt;border-top:1pt solid #000;font-size:10pt}'
  ].join('\n');
  var endPrint = null; // takes the last printout off the page

  /**
   * Prints the conversation: a heading, each turn with its speaker, safety notices framed, and
   * each source with the article's address written out, since paper has no links. The printout
   * is text in elements, in a container on the page that only print shows; the container and its
   * styles go once printing is done.
   */
  function printTranscript() {
    if (endPrint) endPrint();
    var container = document.createElement('div');
    container.id = 'eczema-chat-print';
    var shadow = container.attachShadow({ mode: 'open' }); // the page's CSS can't restyle it
    addStyles(shadow, PRINT_STYLES);
    var page = el('div', 'ecw-printout');
    page.append(el('h1', null, settings.title), el('p', 'ecw-print-date', 'Printed ' + new Date().toLocaleString()));
    turns().forEach(function (turn) {
      var item = el('section', 'ecw-print-turn');
      if (turn.who) item.appendChild(el('h2', null, turn.who));
      if (turn.alert) {
        var alert = el('div', 'ecw-print-alert');
        alert.appendChild(el('p', 'ecw-print-alert-label', ICONS[turn.alert.level] + ' ' + turn.alert.label));
        [turn.alert.text].concat(turn.alert.links).forEach(function (line) {
          if (line) alert.appendChild(el('p', null, line));
        });
        item.appendChild(alert);
      }
      item.appendChild(el('p', turn.who ? 'ecw-print-text' : 'ecw-print-notice', turn.text));
      if (turn.source) {
        item.appendChild(el('p', 'ecw-print-source', 'From the article: ' + turn.source.cite +
                            (turn.source.url ? '\n' + turn.source.url : '')));
      }
      if (turn.note) item.appendChild(el('p', 'ecw-print-note', turn.note));
      page.appendChild(item);
    });
    if (state.welcome && state.welcome.disclaimer) {
      page.appendChild(el('p', 'ecw-print-disclaimer', state.welcome.disclaimer));
    }
    shadow.appendChild(page);
    document.body.appendChild(container);
    var unstyle = addStyles(document, PRINT_PAGE);
    endPrint = function done() {
      window.removeEventListener('afterprint', done);
      unstyle();
      container.remove();
      endPrint = null;
    };
    window.addEventListener('afterprint', endPrint);
    window.print();
  }

  // ---- 8. Asking ----

  function ask(text) {
    text = String(text).trim();
    if (!text || unavailable) return;
    var question = { id: 'q' + Date.now().toString(36) + Math.random().toString(36).slice(2, 8), text: text };
    ui.input.value = '';
    fitInput();
    ui.typing.hidden = false; // before the question goes in, so the row can't cover it
    append({ who: 'user', text: text });
    state.pending.push(question);
    save();
    if (!sendAsk(question)) connect(); // offline: it goes out when the connection opens
  }

  /**
   * The longest text the server takes (the welcome frame's max_text_chars, which an operator
   * sets with MAX_TEXT_CHARS): the box takes that much and the limit line says so, so a story
   * the box accepts is never refused as too long. Without a usable number, the default 2,000.
   */
  function setLimit(chars) {
    if (typeof chars !== 'number' || !(chars >= 1) || Math.floor(chars) !== chars) chars = 2000;
    ui.input.maxLength = chars;
    ui.limit.textContent = 'That is the longest message the chat takes (' +
      chars.toLocaleString('en-US') + ' characters); anything longer is cut off there.';
    fitInput();
  }

  /**
   * Grows the box to its text (its stylesheet caps it at about five lines, then it scrolls),
   * and says so when the text is as long as the box takes: a longer story pasted in is cut
   * at that length by the browser without a word.
   */
  function fitInput() {
    ui.limit.hidden = ui.input.value.length < ui.input.maxLength;
    ui.input.style.height = 'auto';
    if (ui.input.value) ui.input.style.height = ui.input.scrollHeight + 3 + 'px'; // + its borders
  }

  function sendAsk(q) {
    var frame = { type: 'ask', id: q.id, text: q.text };
    if (state.context != null) frame.context = state.context;
    return send(frame);
  }

  // ---- 9. The connection: reconnect with backoff and jitter; detect a refused origin ----

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
    var socket = ws;
    // A server that never answers (a dead host, a captive portal) fails after a while, not never.
    var guard = setTimeout(function () {
      if (socket.readyState === WebSocket.CONNECTING) socket.close();
    }, CONNECT_TIMEOUT);
    ws.onopen = function () {
      clearTimeout(guard);
      opened = true;
      attempts = 0;
      setStatus('');
      showHelp(false);
      state.pending.forEach(sendAsk); // questions the last connection never answered
    };
    ws.onmessage = function (e) {
      var msg;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      if (msg && typeof msg === 'object') receive(msg);
    };
    ws.onclose = function () {
      clearTimeout(guard);
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
      showHelp(false);
      return;
    }
    if (hadOpened) return retry();
    showHelp(true); // the server can't be reached: the emergency numbers must not depend on it
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
    showHelp(false); // the notice below carries the numbers
    var notice = el('div', 'ecw-msg ecw-notice ecw-unavailable', 'Chat is not available on this site.');
    if (settings.phone) notice.append(' Please call the clinic at ', telLink(settings.phone, 'ecw-clinic-tel'), '.');
    notice.appendChild(helpNow());
    ui.log.replaceChildren(notice);
  }

  /** The disclaimer's first sentence under the header; opening it shows the rest. */
  function showAbout(disclaimer) {
    if (!disclaimer) return;
    var sentences = String(disclaimer).match(/[^.!?]+[.!?]*\s*/g) || [String(disclaimer)];
    ui.about.querySelector('summary').textContent = sentences[0].trim();
    ui.about.querySelector('p').textContent = sentences.slice(1).join('').trim() || String(disclaimer);
    ui.about.hidden = false;
  }

  function setStatus(text) {
    if (ui.status.textContent !== text) ui.status.textContent = text;
  }

  function showHelp(show) {
    ui.help.hidden = !show;
  }

  // ---- 10. Frames from the server ----

  function receive(msg) {
    if (msg.type === 'welcome') {
      state.welcome = { text: msg.text, disclaimer: msg.disclaimer, suggestions: msg.suggestions };
      showAbout(msg.disclaimer);
      setLimit(msg.max_text_chars);
      if (!state.entries.length) append(welcomeEntry(state.welcome));
      else save();
    } else if (msg.type === 'reply') {
      if (!settle(msg.id)) return; // a duplicate after a re-send: already shown
      if ('context' in msg) state.context = msg.context;
      append({ who: 'bot', kind: msg.kind, text: msg.text, disclaimer: msg.disclaimer,
               suggestions: msg.suggestions, source: msg.source, highlights: msg.highlights,
               safety: 'safety' in msg ? msg.safety : localSafety(msg.kind) });
      if (!state.open) { state.unread = (state.unread || 0) + 1; save(); showLauncher(true); }
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

  // ---- 11. Start ----

  function start() {
    build();
    render();
    if (state.welcome) showAbout(state.welcome.disclaimer);
    if (state.open) {
      ui.panel.hidden = false;
      showLatest();
    }
    showLauncher();
    if (state.open || state.pending.length) connect();
    window.addEventListener('online', function () {
      if (timer) { clearTimeout(timer); timer = null; connect(); }
      if (ws && ws.readyState === WebSocket.OPEN) showHelp(false);
    });
    window.addEventListener('offline', function () {
      if (!unavailable && (state.open || state.pending.length)) showHelp(true);
    });
  }

  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start);
})();
