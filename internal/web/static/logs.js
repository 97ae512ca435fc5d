// The app page's live log tail: each section.logs follows its environment's log stream
// (server-sent events) with a pause button and a pod filter. Without this script the page
// says how to follow the logs from the CLI.
(function () {
  "use strict";

  var MAX_LINES = 2000; // lines kept on the page, per environment
  var MAX_PAUSED = 5000; // records held while paused

  function hash(s) {
    var h = 0;
    for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
    return Math.abs(h);
  }

  function clock(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    return d.toLocaleTimeString([], { hour12: false });
  }

  function span(cls, text) {
    var s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    return s;
  }

  function follow(section) {
    var list = section.querySelector("ol.logtail");
    var pause = section.querySelector(".logpause");
    var podSel = section.querySelector(".logpod");
    var state = section.querySelector(".logstate");
    var paused = false, held = [], dropped = 0;
    var pods = {};
    Array.prototype.forEach.call(podSel.options, function (o) { if (o.value) pods[o.value] = true; });

    function say(text) { state.textContent = text; }

    function visible(li) {
      return !podSel.value || li.dataset.pod === podSel.value;
    }

    function addPod(name) {
      if (!name || pods[name]) return;
      pods[name] = true;
      var o = document.createElement("option");
      o.value = name;
      o.textContent = name;
      podSel.appendChild(o);
    }

    function render(r) {
      var li = document.createElement("li");
      li.appendChild(span("t", clock(r.time)));
      if (r.event) {
        var ev = r.event;
        li.className = "ev" + (ev.type === "Warning" ? " warn" : "");
        if (ev.object.indexOf("pod/") === 0) li.dataset.pod = ev.object.slice(4);
        var msg = ev.message + (ev.count > 1 ? " (x" + ev.count + ")" : "");
        li.appendChild(span("src", "event"));
        li.appendChild(document.createTextNode(ev.type + "  " + ev.reason + "  " + ev.object + ": " + msg));
      } else if (r.notice) {
        li.className = "notice";
        li.appendChild(document.createTextNode("berth: " + r.notice));
      } else {
        addPod(r.pod);
        li.dataset.pod = r.pod;
        li.appendChild(span("src c" + (hash(r.pod) % 8), r.pod + (r.container ? "/" + r.container : "")));
        li.appendChild(document.createTextNode(r.line || ""));
      }
      li.hidden = !visible(li);
      var atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
      list.appendChild(li);
      while (list.childElementCount > MAX_LINES) list.removeChild(list.firstElementChild);
      if (atBottom) list.scrollTop = list.scrollHeight;
    }

    pause.hidden = false;
    pause.addEventListener("click", function () {
      paused = !paused;
      pause.setAttribute("aria-pressed", paused ? "true" : "false");
      pause.textContent = paused ? "Resume" : "Pause";
      if (!paused) {
        held.forEach(render);
        if (dropped) say("live (" + dropped + " records while paused were not kept)");
        held = [];
        dropped = 0;
      } else {
        say("paused: new lines wait here");
      }
    });
    podSel.addEventListener("change", function () {
      Array.prototype.forEach.call(list.children, function (li) { li.hidden = !visible(li); });
      list.scrollTop = list.scrollHeight;
    });

    var es = null;
    function connect() {
      list.textContent = "";
      held = [];
      dropped = 0;
      say("connecting…");
      es = new EventSource(section.dataset.logs);
      es.onopen = function () { if (!paused) say("live"); };
      es.onerror = function () {
        say(this.readyState === EventSource.CLOSED ? "stopped: the server refused the stream (close and open it to try again)" : "reconnecting…");
      };
      es.addEventListener("log", function (m) {
        var r = JSON.parse(m.data);
        if (!paused) {
          render(r);
          return;
        }
        held.push(r);
        if (held.length > MAX_PAUSED) {
          held.shift();
          dropped++;
        }
        say("paused: " + held.length + (held.length === 1 ? " new record waits" : " new records wait"));
      });
      es.addEventListener("failure", function (m) {
        this.close();
        es = null; // opening the section again starts anew
        var msg = "";
        try { msg = JSON.parse(m.data).message; } catch (e) { msg = m.data; }
        say("stopped: " + msg);
      });
    }
    // A stream per open section only: browsers allow a page few connections at once.
    var details = section.querySelector("details");
    details.addEventListener("toggle", function () {
      if (details.open && !es) connect();
      if (!details.open && es) {
        es.close();
        es = null;
        say("closed");
      }
    });
    if (details.open) connect();
  }

  if (!window.EventSource) return;
  document.querySelectorAll("section.logs[data-logs]").forEach(follow);
})();
