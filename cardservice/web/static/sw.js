/* The card page's service worker: the card still shows when the phone is offline.

   Network first for /card: a fresh page is shown and saved in the Cache Storage (the page
   says Cache-Control: no-store for shared caches; the Cache API stores it all the same,
   and only on this phone). When the network fails, the saved page is served with its
   "offline copy" note made visible. When /card answers with a redirect (to the login page),
   the patron is no longer logged in and the saved copy is deleted; logging out deletes it
   as well (the page sends a message, and the logout answer carries Clear-Site-Data).
   The stylesheet and the page script are saved too, so the offline copy looks the same. */

"use strict";

const CACHE = "card-v1";
const CARD = "/card";
const ASSETS = [
  "/static/site.css",
  "/static/card.js",
  "/card/colours.css",
  "/static/qrcode-generator.js",
  "/static/rotating.js",
];
const OFFLINE_NOTE_HIDDEN = "data-offline-copy hidden";
const OFFLINE_NOTE_SHOWN = "data-offline-copy";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)));
  self.skipWaiting();
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("message", (event) => {
  if (event.data === "forget-card") {
    event.waitUntil(caches.delete(CACHE));
  }
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (url.pathname === CARD && request.mode === "navigate") {
    event.respondWith(card(request));
  } else if (ASSETS.includes(url.pathname)) {
    event.respondWith(asset(request, url.pathname));
  }
});

async function card(request) {
  let response;
  try {
    response = await fetch(request);
  } catch (offline) {
    const saved = await caches.match(CARD, { ignoreSearch: true });
    if (!saved) {
      throw offline;
    }
    return markedOffline(saved);
  }
  if (response.type === "opaqueredirect" || response.redirected) {
    await caches.delete(CACHE); // logged out or the login expired: the card is not ours to keep
  } else if (response.ok) {
    const cache = await caches.open(CACHE);
    await cache.put(CARD, response.clone());
  }
  return response;
}

async function markedOffline(saved) {
  const html = await saved.text();
  return new Response(html.replace(OFFLINE_NOTE_HIDDEN, OFFLINE_NOTE_SHOWN), {
    status: 200,
    headers: saved.headers,
  });
}

async function asset(request, path) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const cache = await caches.open(CACHE);
      await cache.put(path, response.clone());
    }
    return response;
  } catch (offline) {
    const saved = await caches.match(path);
    if (!saved) {
      throw offline;
    }
    return saved;
  }
}
