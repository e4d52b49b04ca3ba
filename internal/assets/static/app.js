// Roster admin UI: progressive enhancement only. Every form works without this script;
// with it, uploads get drag and drop and a progress bar, and buttons cannot be double-submitted.
(function () {
  "use strict";

  // Forms that write: disable the submit button once sent, so a double click posts once.
  document.querySelectorAll("form[data-once]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (form.dataset.sent) { ev.preventDefault(); return; }
      form.dataset.sent = "1";
      form.querySelectorAll("button[type=submit]").forEach(function (b) {
        b.setAttribute("aria-disabled", "true");
        if (b.dataset.busy) { b.textContent = b.dataset.busy; }
      });
    });
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.dataset.confirm)) { ev.preventDefault(); }
    });
  });

  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var el = document.getElementById(btn.dataset.copy);
      if (!el || !navigator.clipboard) { return; }
      navigator.clipboard.writeText(el.textContent.trim()).then(function () {
        btn.textContent = "Copied";
      });
    });
  });

  function human(n) {
    if (n >= 1 << 20) { return (n / (1 << 20)).toFixed(1) + " MB"; }
    if (n >= 1 << 10) { return Math.round(n / (1 << 10)) + " KB"; }
    return n + " bytes";
  }

  // The upload wizard.
  var form = document.getElementById("upload-form");
  if (form) {
    var input = form.querySelector("input[type=file]");
    var zone = document.getElementById("dropzone");
    var chosen = document.getElementById("chosen");
    var submit = form.querySelector("button[type=submit]");
    var panel = document.getElementById("upload-progress");
    var bar = panel.querySelector(".bar");
    var track = panel.querySelector(".progress");
    var label = document.getElementById("progress-label");
    var errBox = document.getElementById("upload-error");
    var file = null;

    function choose(f) {
      file = f || null;
      chosen.textContent = file ? file.name + " · " + human(file.size) : "";
      submit.disabled = !file;
    }
    submit.disabled = !(input.files && input.files.length);
    input.addEventListener("change", function () { choose(input.files[0]); });
    ["dragenter", "dragover"].forEach(function (t) {
      zone.addEventListener(t, function (ev) { ev.preventDefault(); zone.classList.add("dragover"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      zone.addEventListener(t, function (ev) { ev.preventDefault(); zone.classList.remove("dragover"); });
    });
    zone.addEventListener("drop", function (ev) {
      if (ev.dataTransfer.files.length) {
        try { input.files = ev.dataTransfer.files; } catch (e) { /* old browsers: keep our copy */ }
        choose(ev.dataTransfer.files[0]);
      }
    });

    function fail(msg) {
      errBox.hidden = false;
      errBox.querySelector("span").textContent = msg;
      panel.hidden = true;
      submit.disabled = false;
      submit.textContent = "Upload and check";
    }

    function setBar(frac, text) {
      track.classList.toggle("indeterminate", frac < 0);
      bar.style.width = frac < 0 ? "" : Math.round(frac * 100) + "%";
      label.textContent = text;
    }

    function poll(url, size) {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (s.error && typeof s.error === "object") { fail(s.error.message); return; }
          if (s.error) { fail(s.error); return; }
          if (s.done) { setBar(1, "Checked. Opening the report…"); window.location = s.url; return; }
          var total = s.size || size;
          if (s.bytes && total) {
            setBar(Math.min(s.bytes / total, 0.99), "Checking rows… " + s.rows.toLocaleString() + " read");
          } else {
            setBar(-1, "Checking rows…");
          }
          setTimeout(function () { poll(url, size); }, 400);
        })
        .catch(function () { setTimeout(function () { poll(url, size); }, 1000); });
    }

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!file) { input.focus(); return; }
      errBox.hidden = true;
      panel.hidden = false;
      submit.disabled = true;
      submit.textContent = "Uploading…";
      var data = new FormData();
      data.append("csrf", form.querySelector("input[name=csrf]").value);
      data.append("file", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-Requested-With", "fetch");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          setBar(e.loaded / e.total, "Uploading… " + human(e.loaded) + " of " + human(e.total));
        }
      });
      xhr.addEventListener("load", function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
        if (xhr.status === 201 && body) {
          submit.textContent = "Checking…";
          setBar(-1, "Uploaded. Checking rows…");
          poll(body.status_url, file.size);
        } else {
          fail(body && body.error ? body.error.message : "The upload failed (" + xhr.status + "). Try again.");
        }
      });
      xhr.addEventListener("error", function () { fail("The connection was lost during the upload. Try again."); });
      xhr.send(data);
    });
  }

  // A report still being made (the page was opened by a link): wait for it.
  var waiting = document.getElementById("checking");
  if (waiting) {
    var url = waiting.dataset.status;
    (function again() {
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
        if (s.done) { window.location.reload(); return; }
        var b = waiting.querySelector(".bar");
        if (s.size && s.bytes) { waiting.querySelector(".progress").classList.remove("indeterminate"); b.style.width = Math.round(100 * s.bytes / s.size) + "%"; }
        setTimeout(again, 500);
      }).catch(function () { setTimeout(again, 1500); });
    })();
  }
})();
