/* The application form, a little quicker with a script; everything works without it.
   - Postal code: on leaving the field, fill in the prefecture and city from /apply/postal.
   - Submit buttons: disabled for a moment after the first press (the server already
     accepts a submission only once; this just spares a second round trip). */
(function () {
  "use strict";

  function fillFromPostalCode() {
    var postal = document.getElementById("postal_code");
    var prefecture = document.getElementById("prefecture");
    var city = document.getElementById("city");
    var status = document.getElementById("postal-status");
    if (!postal || !prefecture || !city || !window.fetch) {
      return;
    }
    var lastLooked = "";
    var filledCity = "";
    postal.addEventListener("change", function () {
      var code = postal.value.trim();
      if (!code || code === lastLooked) {
        return;
      }
      lastLooked = code;
      fetch("/apply/postal?code=" + encodeURIComponent(code), {
        headers: { Accept: "application/json" },
        credentials: "same-origin"
      })
        .then(function (response) {
          return response.json().then(function (body) {
            return { ok: response.ok, body: body };
          });
        })
        .then(function (result) {
          if (!result.ok) {
            if (status && result.body.error) {
              status.textContent = result.body.error.message;
            }
            return;
          }
          prefecture.value = result.body.prefecture;
          // Only replace a city the applicant has not typed themselves.
          if (!city.value || city.value === filledCity) {
            city.value = result.body.city;
            filledCity = result.body.city;
          }
          if (status) {
            status.textContent = result.body.prefecture + result.body.city;
          }
        })
        .catch(function () {
          /* Offline or a server error: the applicant types the address. */
        });
    });
  }

  function submitOnce() {
    var forms = document.querySelectorAll("form.submit-once");
    Array.prototype.forEach.call(forms, function (form) {
      form.addEventListener("submit", function () {
        var buttons = form.querySelectorAll("button[type=submit]");
        Array.prototype.forEach.call(buttons, function (button) {
          button.disabled = true;
          setTimeout(function () { button.disabled = false; }, 5000);
        });
      });
    });
  }

  fillFromPostalCode();
  submitOnce();
})();
