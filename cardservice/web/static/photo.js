/* A phone photo just works: a photo chosen for a document upload is made smaller in the
   browser before it is sent, so a 4 MB 4032 x 3024 camera picture is not refused as too
   large.

   The target is the server's own: at most data-long-side pixels on the long side (the
   STORED_LONG_SIDE the server keeps, so nothing legible is lost that the server would have
   kept), JPEG at data-quality (0.85); if that is still past data-max-bytes (the profile's
   documents.max_bytes), lower qualities are tried. The server checks what arrives as
   always: its limit stays the rule, and without this script its limit and message stand.

   The image is decoded with createImageBitmap, not an <img> on a blob: URL, which the
   Content-Security-Policy (img-src 'self' data:) would block. A file the browser cannot
   decode (HEIC on some browsers, a damaged file) or a GIF (it may be animated) is sent as
   it is, for the server to judge.

   While it works, a labelled <progress> and a polite status line say what is happening;
   the form's submit buttons wait until the photo is ready. */
(function () {
  "use strict";

  var config = document.currentScript;
  var FALLBACK_QUALITIES = [0.7, 0.55];

  function text(name, values) {
    var template = (config && config.getAttribute("data-" + name)) || "";
    return template.replace(/\{(\w+)\}/g, function (_, key) {
      return values && key in values ? values[key] : "";
    });
  }

  function number(name, fallback) {
    var value = config ? parseFloat(config.getAttribute("data-" + name)) : NaN;
    return isNaN(value) ? fallback : value;
  }

  function supported() {
    return (
      window.createImageBitmap &&
      window.DataTransfer &&
      window.Promise &&
      HTMLCanvasElement.prototype.toBlob
    );
  }

  function decode(file) {
    // "from-image": turned upright by its EXIF orientation, as the server would.
    return createImageBitmap(file, { imageOrientation: "from-image" }).catch(function () {
      return createImageBitmap(file);
    });
  }

  function encode(canvas, quality) {
    return new Promise(function (resolve) {
      canvas.toBlob(resolve, "image/jpeg", quality);
    });
  }

  function smaller(bitmap, longSide) {
    var scale = Math.min(1, longSide / Math.max(bitmap.width, bitmap.height));
    var canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    var context = canvas.getContext("2d");
    context.imageSmoothingEnabled = true;
    context.imageSmoothingQuality = "high";
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    if (bitmap.close) {
      bitmap.close();
    }
    return canvas;
  }

  function jpegName(name) {
    var stem = name.replace(/\.[^./\\]*$/, "") || "photo";
    return stem + ".jpg";
  }

  function megabytes(bytes) {
    return (bytes / 1000000).toFixed(1);
  }

  function Indicator(input) {
    var wrapper = document.createElement("div");
    wrapper.className = "photo-progress";
    wrapper.hidden = true;
    var label = document.createElement("label");
    label.id = input.id + "-progress-label";
    var bar = document.createElement("progress");
    bar.id = input.id + "-progress";
    bar.max = 3;
    bar.setAttribute("aria-labelledby", label.id);
    label.htmlFor = bar.id;
    wrapper.appendChild(label);
    wrapper.appendChild(bar);
    var status = document.createElement("p");
    status.className = "photo-status";
    status.id = input.id + "-status";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    var field = input.closest(".field") || input.parentNode;
    field.appendChild(wrapper);
    field.appendChild(status);
    this.step = function (message, value) {
      label.textContent = message;
      if (value === null) {
        bar.removeAttribute("value"); // indeterminate
      } else {
        bar.value = value;
      }
      wrapper.hidden = false;
    };
    this.done = function (message) {
      wrapper.hidden = true;
      status.textContent = message;
    };
  }

  function buttons(form, disabled) {
    Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (b) {
      b.disabled = disabled;
    });
  }

  // current(): whether this photo is still the one chosen (another may be chosen meanwhile).
  function shrink(input, indicator, current) {
    var file = input.files && input.files[0];
    var longSide = number("long-side", 2000);
    var maxBytes = number("max-bytes", Infinity);
    var quality = number("quality", 0.85);
    var form = input.form;
    if (!file || !/^image\//.test(file.type) || file.type === "image/gif") {
      indicator.done("");
      buttons(form, false); // an earlier photo's run may have held them
      return Promise.resolve();
    }
    buttons(form, true);
    indicator.step(text("working"), 1);
    var original = file.size;
    return decode(file)
      .then(function (bitmap) {
        if (Math.max(bitmap.width, bitmap.height) <= longSide && file.size <= maxBytes) {
          if (bitmap.close) {
            bitmap.close();
          }
          return null; // already small enough: sent as it is
        }
        indicator.step(text("working"), 2);
        var canvas = smaller(bitmap, longSide);
        var qualities = [quality].concat(FALLBACK_QUALITIES);
        var attempt = function (index) {
          return encode(canvas, qualities[index]).then(function (blob) {
            if (blob && blob.size > maxBytes && index + 1 < qualities.length) {
              return attempt(index + 1);
            }
            return blob && { blob: blob, width: canvas.width, height: canvas.height };
          });
        };
        return attempt(0);
      })
      .then(function (result) {
        if (!current()) {
          return; // another photo was chosen meanwhile: its own run answers
        }
        if (!result) {
          indicator.done("");
          return;
        }
        indicator.step(text("working"), 3);
        var made = new File([result.blob], jpegName(file.name), {
          type: "image/jpeg",
          lastModified: Date.now()
        });
        var transfer = new DataTransfer();
        transfer.items.add(made);
        input.files = transfer.files;
        input.setAttribute("data-shrunk", result.width + "x" + result.height);
        indicator.done(
          text("ready", {
            width: result.width,
            height: result.height,
            before: megabytes(original),
            after: megabytes(made.size)
          })
        );
      })
      .catch(function () {
        if (current()) {
          indicator.done(file.size > maxBytes ? text("failed") : "");
        }
      })
      .then(function () {
        if (current()) {
          buttons(form, false);
        }
      });
  }

  function watch(input) {
    var indicator = new Indicator(input);
    var chosen = 0;
    input.addEventListener("change", function () {
      chosen += 1;
      var mine = chosen;
      input.removeAttribute("data-shrunk");
      shrink(input, indicator, function () {
        return mine === chosen;
      });
    });
    if (input.form) {
      input.form.addEventListener("submit", function () {
        if (input.files && input.files.length) {
          indicator.step(text("sending"), null);
        }
      });
    }
  }

  if (!supported()) {
    return; // the server's limit and message stand
  }
  Array.prototype.forEach.call(document.querySelectorAll("input[type=file][data-shrink]"), watch);
})();
