// Takes the page over at once, and answers its ?viasw requests from the network.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (event) => {
  if (event.request.url.includes('viasw')) event.respondWith(fetch(event.request));
});
