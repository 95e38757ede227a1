/* The review pages: a form marked data-confirm (approving an application) asks in a dialog
   before it is sent. The page works without this script: the form's required checkbox is
   the confirmation then, and the server checks it either way. */

"use strict";

(function () {
  var forms = document.querySelectorAll("form[data-confirm]");
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });
})();
