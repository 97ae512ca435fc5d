// Progressive enhancement only: every page works without this script.
(function () {
  "use strict";

  // Relative times stay current; the absolute time is in the title.
  function relative(ms) {
    var s = Math.abs(ms) / 1000, out;
    if (s < 45) return "just now";
    if (s < 90) out = "1 min";
    else if (s < 3600) out = Math.round(s / 60) + " min";
    else if (s < 36 * 3600) out = Math.round(s / 3600) + " h";
    else out = Math.round(s / 86400) + " days";
    return ms < 0 ? "in " + out : out + " ago";
  }
  function tick() {
    document.querySelectorAll("time[datetime]").forEach(function (t) {
      t.textContent = relative(Date.now() - Date.parse(t.getAttribute("datetime")));
    });
  }
  setInterval(tick, 30000);

  // Confirm before rolling back.
  document.addEventListener("submit", function (e) {
    var b = e.submitter;
    if (b && b.dataset.confirm && !window.confirm(b.dataset.confirm)) e.preventDefault();
  });

  // A deploy page follows its deploy live (server-sent events) until it ends.
  var box = document.getElementById("progress");
  var state = document.getElementById("state");
  if (!box || !state || state.dataset.final === "true" || !window.EventSource) return;
  var url = "/deploys/" + box.dataset.deploy + "/events?after=" + (box.dataset.after || "0");
  var es = new EventSource(url);
  var list = document.getElementById("events");
  es.addEventListener("progress", function (m) {
    var ev = JSON.parse(m.data);
    var li = document.createElement("li");
    var phase = document.createElement("span");
    phase.className = "phase";
    phase.textContent = ev.phase;
    li.appendChild(phase);
    li.appendChild(document.createTextNode(" " + (ev.message || "") + " "));
    var counts = document.createElement("span");
    counts.className = "sub";
    counts.textContent = ev.ready + "/" + ev.desired + " ready";
    li.appendChild(counts);
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
    var bar = document.getElementById("bar");
    bar.max = Math.max(ev.desired, 1);
    bar.value = ev.ready;
    document.getElementById("counts").textContent = ev.ready + "/" + ev.desired + " ready · " + ev.phase;
    state.textContent = "running";
    state.className = "badge busy";
  });
  es.addEventListener("deploy", function (m) {
    es.close();
    var d = JSON.parse(m.data);
    state.textContent = d.state;
    state.className = "badge " + (d.state === "succeeded" ? "ok" : d.state === "failed" ? "bad" : "neutral");
    state.dataset.final = "true";
    document.getElementById("reason").textContent = d.reason || (d.state === "succeeded" ? "rolled out" : d.state);
    // The objects and the diff are rendered on the server: show them.
    window.location.reload();
  });
})();
