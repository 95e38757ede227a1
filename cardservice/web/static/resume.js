/* Logged in again after a form was sent too late (web/resume.py): send the kept form back to
   its page at once, as its button would. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-resume]");
  if (form) {
    form.submit();
  }
})();
