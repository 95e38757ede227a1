/* The changing card code (cards/device_proof.py): a QR code that a screenshot cannot replay.

   The first time the patron opens it, this phone makes an ECDSA P-256 key pair with
   WebCrypto. The private key is not extractable: not even this script can read it, and it
   is kept (as a CryptoKey) in this site's IndexedDB. The public key goes to
   POST /card/device-key once (the patron's session, the page's CSRF token), which answers a
   card token bound to it (cnf claim). From then on, with or without a network, every
   30-second step is signed with the private key and the QR code shows
   "<token>~<step>~<signature>". A new card number or expiry date (renewal, reissue) gets
   a new bound token for the same key. Logging out forgets the key and the token.

   Without WebCrypto, IndexedDB or a first connection, the section says so and the plain
   QR code and the barcode above still work. */

"use strict";

(function () {
  var section = document.querySelector("[data-rotating]");
  if (!section || !window.crypto || !crypto.subtle || !window.indexedDB || !window.qrcode) {
    return;
  }
  var STEP = 30;
  var CONTEXT = "cardservice-device-proof/v1";
  var DB = "cardservice-card";
  var STORE = "device";
  var number = section.getAttribute("data-number");
  var expires = section.getAttribute("data-expires");
  var box = section.querySelector("[data-rotating-qr]");
  var countdown = section.querySelector("[data-rotating-countdown]");
  var failed = section.querySelector("[data-rotating-error]");
  var started = false;
  section.hidden = false;

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE);
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function stored(db, value) {
    return new Promise(function (resolve, reject) {
      var tx = db.transaction(STORE, value === undefined ? "readonly" : "readwrite");
      var store = tx.objectStore(STORE);
      var request = value === undefined ? store.get("card") : store.put(value, "card");
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function b64url(bytes) {
    var text = "";
    var view = new Uint8Array(bytes);
    for (var i = 0; i < view.length; i += 1) {
      text += String.fromCharCode(view[i]);
    }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function csrfToken() {
    var field = document.querySelector("input[name=_csrf_token]");
    return field ? field.value : "";
  }

  async function bind(keyPair) {
    var jwk = await crypto.subtle.exportKey("jwk", keyPair.publicKey);
    var response = await fetch("/card/device-key", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } }),
    });
    if (!response.ok) {
      throw new Error("device-key " + response.status);
    }
    var answer = await response.json();
    return { keyPair: keyPair, token: answer.token, jti: answer.jti, number: number, expires: expires };
  }

  async function device() {
    var db = await openDb();
    var card = await stored(db);
    if (card && card.number === number && card.expires === expires) {
      return card;
    }
    var keyPair = card ? card.keyPair : await crypto.subtle.generateKey(
      { name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
    card = await bind(keyPair);
    await stored(db, card);
    return card;
  }

  function draw(text) {
    var qr = window.qrcode(0, "L");
    qr.addData(text);
    qr.make();
    var count = qr.getModuleCount();
    var quiet = 4;
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 " + (count + 2 * quiet) + " " + (count + 2 * quiet));
    svg.setAttribute("shape-rendering", "crispEdges");
    var background = document.createElementNS(ns, "rect");
    background.setAttribute("width", "100%");
    background.setAttribute("height", "100%");
    background.setAttribute("fill", "#fff");
    svg.appendChild(background);
    var d = "";
    for (var row = 0; row < count; row += 1) {
      for (var col = 0; col < count; col += 1) {
        if (qr.isDark(row, col)) {
          d += "M" + (col + quiet) + " " + (row + quiet) + "h1v1h-1z";
        }
      }
    }
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", "#000");
    svg.appendChild(path);
    box.replaceChildren(svg);
  }

  async function show(card, step) {
    var message = new TextEncoder().encode(CONTEXT + "." + card.jti + "." + step);
    var signature = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" }, card.keyPair.privateKey, message);
    var code = card.token + "~" + step + "~" + b64url(signature);
    draw(code);
    box.setAttribute("data-code", code);
  }

  async function run() {
    var card;
    try {
      card = await device();
    } catch (error) {
      failed.hidden = false;
      return;
    }
    var shown = -1;
    async function tick() {
      var now = Date.now() / 1000;
      var step = Math.floor(now / STEP);
      if (step !== shown) {
        shown = step;
        await show(card, step);
      }
      if (countdown) {
        var left = Math.ceil((step + 1) * STEP - now);
        countdown.textContent = countdown.getAttribute("data-template").replace("{s}", left);
        countdown.hidden = false;
      }
    }
    await tick();
    setInterval(tick, 1000);
  }

  function start() {
    if (!started) {
      started = true;
      run();
    }
  }

  if (section.open) {
    start();
  }
  section.addEventListener("toggle", function () {
    if (section.open) {
      start();
    }
  });
  var logout = document.querySelector("form[data-card-logout]");
  if (logout) {
    logout.addEventListener("submit", function () {
      indexedDB.deleteDatabase(DB);
    });
  }
})();
