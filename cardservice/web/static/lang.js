/* Switching language keeps what was typed.

   On a page with a form marked data-lang-keep, the header's language link does not simply
   load the page in the other language (which would empty every field): it sends the form
   to its own address with ?lang= and _lang_switch=1, and the server shows the same form
   again in that language, filled in as sent, without acting on it (web/i18n.py,
   switching_language). A GET form (a search) is loaded again with its fields in the
   query. A chosen file is not sent (a browser cannot be handed a file back). Without this
   script the switch is a button of the page's form (base.html), which sends that form the
   same way, or on a page without one a plain link. */
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
    var chosen = [];
    Array.prototype.forEach.call(form.querySelectorAll("input[type=file]"), function (input) {
      if (input.files && input.files.length && input.id) {
        chosen.push(input.id); // the page in the other language asks for it again
      }
      input.disabled = true;
    });
    remember(CHOOSE_AGAIN, chosen.length ? JSON.stringify(chosen) : null);
    var flag = document.createElement("input");
    flag.type = "hidden";
    flag.name = "_lang_switch"; // web/i18n.py LANG_SWITCH_FIELD
    flag.value = "1";
    form.appendChild(flag);
    remember(SWITCHED, "1");
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

  /* The page a switch shows answers a POST: reloading it, or coming back to it, would ask
     to send the form again (Chrome's "Confirm Form Resubmission"). Its history entry is
     made a plain load of the same address (?lang= keeps the language), and what its forms
     hold is kept in this tab for that reload or return. Passwords, files and hidden fields
     (the CSRF token) are not kept. */
  var SWITCHED = "cardservice-lang-switched";
  var KEPT = "cardservice-lang-kept";
  var CHOOSE_AGAIN = "cardservice-lang-file";

  // A file chosen before the switch is not sent (a browser cannot be handed it back): the
  // field says so, in the page's new language (its data-choose-again).
  function askForFilesAgain() {
    var ids = [];
    try {
      ids = JSON.parse(recalled(CHOOSE_AGAIN) || "[]");
    } catch (ignored) {
      ids = [];
    }
    remember(CHOOSE_AGAIN, null);
    ids.forEach(function (id) {
      var input = document.getElementById(id);
      if (!input || input.type !== "file" || !input.getAttribute("data-choose-again")) {
        return;
      }
      var note = document.createElement("p");
      note.className = "notice";
      note.id = id + "-choose-again";
      note.setAttribute("role", "status");
      note.textContent = input.getAttribute("data-choose-again");
      input.parentNode.insertBefore(note, input);
    });
  }

  function remember(key, value) {
    try {
      if (value === null) {
        window.sessionStorage.removeItem(key);
      } else {
        window.sessionStorage.setItem(key, value);
      }
    } catch (ignored) {
      // storage unavailable (private mode): the browser's own behaviour stays
    }
  }

  function recalled(key) {
    try {
      return window.sessionStorage.getItem(key);
    } catch (ignored) {
      return null;
    }
  }

  function keptFields(form) {
    return Array.prototype.filter.call(form.elements, function (field) {
      return field.name && !/^(hidden|password|file|submit|button)$/.test(field.type);
    });
  }

  function keepOnLeaving() {
    window.addEventListener("pagehide", function () {
      var values = [];
      document.querySelectorAll("form[data-lang-keep]").forEach(function (form, index) {
        keptFields(form).forEach(function (field) {
          var checkable = field.type === "checkbox" || field.type === "radio";
          values.push([index, field.name, field.value, checkable ? field.checked : null]);
        });
      });
      remember(KEPT, JSON.stringify({ url: window.location.href, values: values }));
    });
  }

  function restore(values) {
    var forms = document.querySelectorAll("form[data-lang-keep]");
    values.forEach(function (entry) {
      var form = forms[entry[0]];
      if (!form) {
        return;
      }
      keptFields(form).forEach(function (field) {
        if (field.name !== entry[1]) {
          return;
        }
        if (entry[3] === null) {
          field.value = entry[2];
        } else if (field.value === entry[2]) {
          field.checked = entry[3];
        }
      });
    });
  }

  (function afterSwitch() {
    var navigation = window.performance && performance.getEntriesByType
      ? performance.getEntriesByType("navigation")[0] : null;
    var how = navigation ? navigation.type : "navigate";
    var kept = null;
    try {
      kept = JSON.parse(recalled(KEPT) || "null");
    } catch (ignored) {
      kept = null;
    }
    if (recalled(SWITCHED)) {
      remember(SWITCHED, null);
      askForFilesAgain();
      if (window.history && history.replaceState) {
        history.replaceState(history.state, "", window.location.href);
        keepOnLeaving();
      }
    } else if (kept && kept.url === window.location.href && how !== "navigate") {
      restore(kept.values);
      keepOnLeaving();
    } else if (kept) {
      remember(KEPT, null);
    }
  })();

  // The header's switch: a link, or on a page with a form to keep a button of that form
  // (base.html), which works without this script too; here it sends the form typed in.
  var link = document.querySelector("a.lang-switch[hreflang], button.lang-switch[data-lang]");
  var first = document.querySelector("form[data-lang-keep]");
  if (!link || !first || !window.URL || !window.FormData) {
    return;
  }
  var target = link.getAttribute("hreflang") || link.getAttribute("data-lang");
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
    switchKeeping(typedIn || first, target);
  });
})();
