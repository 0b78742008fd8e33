// tests/pages/events/app.js as a later, broken version of the app would have it (the page
// itself, index.html, is the same file: a link to it): its
// "Log" button now throws and asks an API that is gone. (Replay must call that a divergence.)
const out = document.getElementById("out");
const done = (what) => { out.textContent = `done: ${what}`; };

document.getElementById("log").addEventListener("click", () => {
  console.log("hello from the page", { n: 1 });
  setTimeout(() => done("log"), 0);
  fetch("api/gone.json");
  throw new TypeError("items is undefined");
});
