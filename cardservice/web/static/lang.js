/* Switching language keeps what was typed.

   On a page with a form marked data-lang-keep, the header's language link does not simply
   load the page in the other language (which would empty every field): it sends the form
   to its own address with ?lang= and _lang_switch=1, and the server shows the same form
   again in that language, filled in as sent, without acting on it (web/i18n.py,
   switching_language). A GET form (a search) is loaded again with its fields in the
   query. A chosen file is not sent (a browser cannot be handed a file back). Without this
   script the link works as a plain link. */
(function () {
  "use strict";

  function withLanguage(address, lang) {
    var url = new URL(address, window.location.href);
    url.searchParams.set("lang", lang);
    return url;
  }

  function switchKeeping(form, lang) {
    if ((form.getAttribute("method") || "get").toLowerCase() === "get") {
      var url = new URL(form.action, window.location.href);
      url.search = ""; // as a browser sends a GET form: its fields replace the query
      url.searchParams.set("lang", lang);
      new FormData(form).forEach(function (value, name) {
        if (typeof value === "string" && name !== "lang") {
          url.searchParams.append(name, value);
        }
      });
      window.location.assign(url.toString());
      return;
    }
    Array.prototype.forEach.call(form.querySelectorAll("input[type=file]"), function (input) {
      input.disabled = true;
    });
    var flag = document.createElement("input");
    flag.type = "hidden";
    flag.name = "_lang_switch"; // web/i18n.py LANG_SWITCH_FIELD
    flag.value = "1";
    form.appendChild(flag);
    var action = form.getAttribute("action");
    form.action = withLanguage(form.action, lang).toString();
    form.submit(); // no validation, no submit handlers: this is not the form being sent
    // Back to this page from the browser's cache: the form is sent as usual again.
    window.addEventListener("pageshow", function restore() {
      window.removeEventListener("pageshow", restore);
      form.removeChild(flag);
      form.setAttribute("action", action);
      Array.prototype.forEach.call(form.querySelectorAll("input[type=file]"), function (input) {
        input.disabled = false;
      });
    });
  }

  var link = document.querySelector("a.lang-switch[hreflang]");
  var first = document.querySelector("form[data-lang-keep]");
  if (!link || !first || !window.URL || !window.FormData) {
    return;
  }
  // A page with several such forms (a review's question and rejection) carries the one
  // typed in last; the first when nothing was typed (it may hold what a refused post sent).
  var typedIn = null;
  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (form && form.hasAttribute("data-lang-keep")) {
      typedIn = form;
    }
  });
  link.addEventListener("click", function (event) {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) {
      return; // a new tab or window: the plain link
    }
    event.preventDefault();
    switchKeeping(typedIn || first, link.getAttribute("hreflang"));
  });
})();
