// What the buttons of tests/pages/events/index.html do; each ends by writing #out, so a
// test can wait for it (`done: <button>`).
const TOKEN = ["tok", "ens3", "cr3t-", "4711"].join("");  // recorder keeps no scripts; a test spells it in pieces too, as recorder keeps the test file
const out = document.getElementById("out");
const done = (what) => { out.textContent = `done: ${what}`; };

document.getElementById("log").addEventListener("click", () => {
  console.log("hello from the page", { n: 1 });
  console.warn("careful now");
  done("log");
});

document.getElementById("fail").addEventListener("click", () => {
  setTimeout(() => done("fail"), 0);
  throw new RangeError("thrown in a click handler");
});

document.getElementById("later").addEventListener("click", () => {
  setTimeout(() => { throw new TypeError("thrown later"); }, 10);
  Promise.reject(new Error("rejected promise"));
  setTimeout(() => done("later"), 50);
});

document.getElementById("idle").addEventListener("click", () => {
  setTimeout(() => {  // well after the click returned: while the test does something else
    console.log("logged while idle");
    fetch("api/items.json?idle");
    throw new Error("thrown while idle");
  }, 300);
  done("idle");
});

document.getElementById("missing").addEventListener("click", async () => {
  await fetch("missing.json");
  try {
    await fetch("http://127.0.0.1:9/unreachable.json");  // port 9: one Chromium never connects to (net::ERR_UNSAFE_PORT)
  } catch (error) {
    console.log("unreachable as expected");
  }
  done("missing");
});

document.getElementById("api").addEventListener("click", async () => {
  const reply = await fetch("api/items.json", { headers: { Authorization: `Bearer ${TOKEN}` } });
  const items = await reply.json();
  done(`api ${items.length}`);
});

document.getElementById("search").addEventListener("click", async () => {
  const typed = document.getElementById("password").value;
  console.log(`searching for ${typed}`);
  await fetch(`api/items.json?q=${encodeURIComponent(typed)}`);
  done("search");
});
