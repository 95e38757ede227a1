/* The card page: register the service worker that keeps the card for offline use, and
   have it forget the card on logout. The page works without this script; it only adds
   the offline copy. */

"use strict";

(function () {
  if (!("serviceWorker" in navigator)) {
    return;
  }
  navigator.serviceWorker.register("/sw.js", { scope: "/card" }).catch(function () {
    /* No offline copy then (private mode, blocked storage); the page itself still works. */
  });
  var logout = document.querySelector("form[data-card-logout]");
  if (logout) {
    logout.addEventListener("submit", function () {
      var worker = navigator.serviceWorker.controller;
      if (worker) {
        worker.postMessage("forget-card");
      }
    });
  }
})();
