// The report of a run: the header, one row per test (its attempts' recordings under it),
// checkboxes that show or hide the rows of each outcome. Text only ever goes in through
// textContent: node ids and failure messages are the tests' own text.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const run = data.run;

  function el(tag, props, children) {
    const node = document.createElement(tag);
    Object.assign(node, props || {});
    for (const child of children || []) node.append(child);
    return node;
  }

  function seconds(ms) {
    if (ms === null || ms === undefined) return "";
    return ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(1) + " s";
  }

  function when(iso) {
    return iso ? iso.slice(0, 19).replace("T", " ") + " UTC" : "";
  }

  // The header: when, where, what came of it.
  document.getElementById("title").textContent = "Test run " + run.id.slice(0, 12);
  const meta = document.getElementById("run-meta");
  function item(name, value) {
    if (value === null || value === undefined || value === "") return;
    meta.append(el("dt", { textContent: name }), el("dd", {}, [value]));
  }
  item("Run", run.id);
  item("Started", when(run.started_at));
  item("Ended", run.ended_at ? when(run.ended_at) : "not ended (still running, or the session died)");
  if (run.ended_at) {
    item("Took", seconds(Date.parse(run.ended_at) - Date.parse(run.started_at)));
  }
  item("Exit status", run.exit_status === null ? "" : String(run.exit_status));
  item("Counts", ["passed", "failed", "flaky", "skipped", "errors", "reruns"]
    .map((name) => run[name] + " " + name).join(", "));
  item("Workers", String(run.workers));
  item("Git", [run.git_branch, run.git_commit].filter(Boolean).join(" @ "));
  if (run.ci_build_url) {
    item("CI", el("a", { href: run.ci_build_url, textContent: (run.ci_name ? run.ci_name + ": " : "") + run.ci_build_url }));
  } else {
    item("CI", run.ci_name);
  }
  item("Host", run.host);
  item("Database", data.database);

  const notes = document.getElementById("notes");
  if (!data.tests.length) {
    notes.append(el("p", { id: "no-tests", textContent: "This run lists no tests: none finished, or it was stored by a recorder that kept no per-test outcomes and it has no recordings." }));
  } else if (data.from_recordings_only) {
    notes.append(el("p", { textContent: "This run's per-test outcomes were not stored (an older recorder): only the tests it recorded are listed." }));
  }

  // One row per test.
  const rows = document.getElementById("rows");
  const counts = {};
  for (const test of data.tests) {
    counts[test.outcome] = (counts[test.outcome] || 0) + 1;
    const links = el("ul", { className: "recordings" });
    for (const recording of test.recordings) {
      const label = "#" + recording.id + (test.recordings.length > 1 || recording.attempt > 1 ? " attempt " + recording.attempt : "")
        + " · " + recording.outcome + " · " + recording.actions + " actions";
      const link = recording.href ? el("a", { href: recording.href, className: "recording-link", textContent: label })
        : document.createTextNode(label);
      const li = el("li", {}, [link]);
      li.dataset.recording = String(recording.id);
      links.append(li);
    }
    if (!test.recordings.length) links.append(el("li", { className: "none", textContent: "not recorded" }));
    const where = test.file ? test.file + (test.line ? ":" + test.line : "") : "";
    const row = el("tr", { className: "test " + test.outcome }, [
      el("td", {}, [el("span", { className: "badge " + test.outcome, textContent: test.outcome })]),
      el("td", { className: "nodeid", textContent: test.nodeid, title: where }),
      el("td", { className: "duration", textContent: seconds(test.duration_ms) }),
      el("td", { className: "attempts", textContent: String(test.attempts) }),
      el("td", { className: "message", textContent: test.message || "" }),
      el("td", {}, [links]),
    ]);
    row.dataset.outcome = test.outcome;
    row.dataset.nodeid = test.nodeid;
    rows.append(row);
  }

  // The filter: one checkbox per outcome present, all on.
  const filters = document.getElementById("filters");
  const shown = new Set();
  function apply() {
    let visible = 0;
    for (const row of rows.children) {
      row.hidden = !shown.has(row.dataset.outcome);
      if (!row.hidden) visible += 1;
    }
    document.getElementById("empty").hidden = visible > 0 || !data.tests.length;
  }
  const order = data.outcomes.concat(Object.keys(counts).filter((o) => !data.outcomes.includes(o)));
  for (const outcome of order) {
    if (!counts[outcome]) continue;
    shown.add(outcome);
    const box = el("input", { type: "checkbox", checked: true, value: outcome, id: "show-" + outcome });
    box.addEventListener("change", () => {
      if (box.checked) shown.add(outcome); else shown.delete(outcome);
      apply();
    });
    filters.append(el("label", { htmlFor: box.id }, [box, " ", el("span", { className: "badge " + outcome, textContent: outcome }),
      " " + counts[outcome]]));
  }
  if (!filters.querySelector("input")) filters.hidden = true;
  apply();
})();
