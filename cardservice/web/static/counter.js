/* The counter station: each scan (a keyboard-wedge scanner types the number and Enter, or
   the camera reads a code) is checked without leaving the page; the result fills the screen
   with a sound, and joins the list of last scans. Without this script the form posts and the
   page comes back with the result. */

"use strict";

(function () {
  var form = document.getElementById("scan-form");
  if (!form || !window.fetch || !window.URLSearchParams) {
    return;
  }
  var input = document.getElementById("scanned");
  var result = document.getElementById("result");
  var recent = document.getElementById("recent");
  var recentEmpty = document.getElementById("recent-empty");
  var MARKS = { ok: "\u2713", warn: "!", stop: "\u2715" };
  var MAX_RECENT = 10;
  var chain = Promise.resolve();
  var audio = null;

  function field(name) {
    return result.querySelector('[data-field="' + name + '"]');
  }

  function mark(tone) {
    var found = result.querySelector(".verdict-mark");
    if (!found) {
      found = document.createElement("span");
      found.className = "verdict-mark";
      found.setAttribute("aria-hidden", "true");
      var title = result.querySelector(".verdict-title");
      title.insertBefore(document.createTextNode(" "), title.firstChild);
      title.insertBefore(found, title.firstChild);
    }
    found.textContent = MARKS[tone] || MARKS.stop;
  }

  function tone(frequency, start, length, wave) {
    var oscillator = audio.createOscillator();
    var gain = audio.createGain();
    oscillator.type = wave;
    oscillator.frequency.value = frequency;
    gain.gain.value = 0.25;
    oscillator.connect(gain);
    gain.connect(audio.destination);
    oscillator.start(audio.currentTime + start);
    oscillator.stop(audio.currentTime + start + length);
  }

  /* One short high beep for a valid card, two for a suspended one, a low buzz otherwise. */
  function sound(kind) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (kind === "ok") {
        tone(1320, 0, 0.12, "sine");
      } else if (kind === "warn") {
        tone(660, 0, 0.12, "triangle");
        tone(660, 0.2, 0.12, "triangle");
      } else {
        tone(196, 0, 0.5, "square");
      }
    } catch (error) {
      /* No sound on this browser: the colour and the words still say it all. */
    }
  }

  /* What was typed, for a scan that is no card number: at most 24 characters of it. */
  function typedPart(view, text) {
    if (view.status !== "invalid") {
      return view.user_number || "\u2014";
    }
    var shown = text.trim();
    return shown.length > 24 ? shown.slice(0, 24) + "\u2026" : shown || "\u2014";
  }

  function remember(view, text) {
    var item = document.createElement("li");
    item.className = "recent-" + view.tone;
    var time = document.createElement("time");
    time.textContent = new Date().toLocaleTimeString(document.documentElement.lang || "ja");
    var title = document.createElement("strong");
    title.textContent = view.title;
    var who = document.createElement("span");
    who.textContent = [typedPart(view, text), view.holder || ""].join(" ").trim();
    item.appendChild(time);
    item.appendChild(title);
    item.appendChild(who);
    recent.insertBefore(item, recent.firstChild);
    while (recent.children.length > MAX_RECENT) {
      recent.removeChild(recent.lastChild);
    }
    recentEmpty.hidden = true;
  }

  function show(view, text) {
    result.className = "verdict verdict-" + view.tone;
    result.setAttribute("data-status", view.status);
    mark(view.tone);
    field("title").textContent = view.title;
    field("words").textContent = view.words;
    field("holder").textContent = view.holder || "\u2014";
    field("user_number").textContent = view.user_number || "\u2014";
    field("expires_on").textContent = view.expires_on || "\u2014";
    void result.offsetWidth; /* restart the flash for the same verdict twice */
    result.classList.add("verdict-new");
    sound(view.tone);
    remember(view, text);
  }

  function failed(message, reload) {
    result.className = "verdict verdict-stop";
    result.setAttribute("data-status", "error");
    mark("stop");
    field("title").textContent = message;
    field("words").textContent = "";
    sound("stop");
    if (reload) {
      window.setTimeout(function () { window.location.reload(); }, 2000);
    }
  }

  function check(text) {
    var body = new URLSearchParams(new FormData(form));
    /* Control characters (a scanner's prefix, a stray Escape) are never part of a card;
       the server would refuse the whole form for them. */
    body.set("scanned", text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ""));
    return fetch(form.getAttribute("data-scan-url"), {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      var type = response.headers.get("content-type") || "";
      if (response.redirected) {
        /* Sent to the login page: the staff session has ended. */
        failed(recent.getAttribute("data-login"), true);
        return;
      }
      if (!response.ok || type.indexOf("application/json") !== 0) {
        failed(recent.getAttribute("data-fail"), false);
        return;
      }
      return response.json().then(function (view) { show(view, text); });
    }).catch(function () {
      failed(recent.getAttribute("data-fail"), false);
    });
  }

  function submit(text) {
    /* Scans are checked in the order they were made, one at a time. */
    chain = chain.then(function () { return check(text); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    input.focus();
    submit(text);
  });

  /* The camera, where the browser can read barcodes itself. */
  var camera = document.getElementById("camera");
  var toggle = document.getElementById("camera-toggle");
  var video = document.getElementById("camera-view");
  var cameraError = document.getElementById("camera-error");
  var stream = null;
  var detector = null;
  var lastValue = "";
  var lastAt = 0;
  if (!("BarcodeDetector" in window) || !navigator.mediaDevices ||
      !navigator.mediaDevices.getUserMedia) {
    return;
  }
  camera.hidden = false;

  function stop() {
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
    }
    stream = null;
    video.hidden = true;
    toggle.textContent = toggle.getAttribute("data-start");
  }

  function look() {
    if (!stream) {
      return;
    }
    detector.detect(video).then(function (codes) {
      var now = Date.now();
      if (codes.length && (codes[0].rawValue !== lastValue || now - lastAt > 3000)) {
        lastValue = codes[0].rawValue;
        lastAt = now;
        submit(lastValue);
      }
    }).catch(function () { /* a frame not ready yet */ }).then(function () {
      window.setTimeout(look, 250);
    });
  }

  function start() {
    cameraError.hidden = true;
    window.BarcodeDetector.getSupportedFormats().then(function (formats) {
      var wanted = ["codabar", "code_128", "qr_code"].filter(function (format) {
        return formats.indexOf(format) >= 0;
      });
      detector = new window.BarcodeDetector({ formats: wanted });
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    }).then(function (opened) {
      stream = opened;
      video.srcObject = stream;
      video.hidden = false;
      toggle.textContent = toggle.getAttribute("data-stop");
      return video.play();
    }).then(look).catch(function () {
      stop();
      cameraError.textContent = cameraError.getAttribute("data-message");
      cameraError.hidden = false;
    });
  }

  toggle.addEventListener("click", function () {
    if (stream) {
      stop();
    } else {
      start();
    }
    input.focus();
  });
})();
