/* The application form, a little quicker with a script; everything works without it.
   - Postal code: on leaving the field, fill in the prefecture and city from /apply/postal
     (the city unless typed on this page);
     a code that is malformed or does not exist gets its error next to the field.
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
    // The city the page came with was not typed here: the patron's registered city (a
    // change of address), or one the server filled in or kept. A new postal code replaces
    // it, as the server's own "fill in" button does; a city typed on this page stays.
    var filledCity = city.value;
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
            if (result.body.error) {
              showError(postal, result.body.error.message);
              if (status) {
                status.textContent = result.body.error.message;
              }
            }
            return;
          }
          showError(postal, "");
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

  /* The field's own error, shown above it as the server shows one (the #NAME-error
     paragraph the field's aria-describedby names); "" takes it away. */
  function showError(field, message) {
    var id = field.id + "-error";
    var error = document.getElementById(id);
    var described = (field.getAttribute("aria-describedby") || "").split(" ").filter(
      function (part) { return part && part !== id; }
    );
    if (!message) {
      if (error) {
        error.parentNode.removeChild(error);
      }
      field.removeAttribute("aria-invalid");
      field.setAttribute("aria-describedby", described.join(" "));
      return;
    }
    if (!error) {
      error = document.createElement("p");
      error.className = "field-error";
      error.id = id;
      var row = field.closest(".inline") || field;
      row.parentNode.insertBefore(error, row);
    }
    error.textContent = message;
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", described.concat([id]).join(" "));
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
