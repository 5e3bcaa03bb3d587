// Jikimi pages: greyscale preference, review keyboard shortcuts, reveal-on-request, drag-and-drop upload.
// No inline script anywhere (the CSP forbids it); everything is wired from data- attributes.
(function () {
  "use strict";
  var csrf = document.body.getAttribute("data-csrf") || "";

  // Greyscale option, remembered in this browser.
  function applyGrey() {
    var on = localStorage.getItem("jikimi-grey") === "1";
    document.body.classList.toggle("greyscale", on);
    document.querySelectorAll("[data-grey-toggle]").forEach(function (b) { b.setAttribute("aria-pressed", on ? "true" : "false"); });
  }
  document.addEventListener("click", function (ev) {
    var t = ev.target.closest("[data-grey-toggle]");
    if (t) { localStorage.setItem("jikimi-grey", localStorage.getItem("jikimi-grey") === "1" ? "0" : "1"); applyGrey(); }
  });
  applyGrey();

  // Reveal one card's images together (the found image and her enrolment photo): the server sends the unblurred
  // images only on ?reveal=true and records each in the audit log.
  function reveal(card) {
    if (!card) return;
    var imgs = card.querySelectorAll("img.thumb");
    if (!imgs.length || imgs[0].dataset.revealed === "1") return;
    imgs.forEach(function (img) {
      img.src = img.dataset.revealSrc;
      img.dataset.revealed = "1";
      img.classList.remove("blurred");
    });
    var btn = card.querySelector("[data-reveal]");
    if (btn) btn.disabled = true;
  }
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("[data-reveal], img.thumb.blurred");
    if (b && b.closest("[data-finding]") && (b.tagName !== "IMG" || b.closest("[data-finding]").querySelector("[data-reveal]"))) {
      ev.preventDefault(); reveal(b.closest("[data-finding]"));
    }
  });

  // Review queue keyboard: j/n next, k previous, v reveal, c confirm, d dismiss, g greyscale.
  function cards() { return Array.prototype.slice.call(document.querySelectorAll("[data-finding]")); }
  function current() { return document.querySelector("[data-finding].current"); }
  function select(card) {
    cards().forEach(function (c) { c.classList.remove("current"); });
    if (card) { card.classList.add("current"); card.scrollIntoView({ block: "nearest" }); card.focus({ preventScroll: true }); }
  }
  function move(step) {
    var list = cards(); if (!list.length) return;
    var i = list.indexOf(current());
    select(list[Math.max(0, Math.min(list.length - 1, i < 0 ? 0 : i + step))]);
  }
  document.addEventListener("keydown", function (ev) {
    if (!document.querySelector("[data-review-queue]")) return;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") return;
    var card = current();
    switch (ev.key) {
      case "j": case "n": case "ArrowRight": move(1); break;
      case "k": case "p": case "ArrowLeft": move(-1); break;
      case "v": reveal(card); break;
      case "g": localStorage.setItem("jikimi-grey", localStorage.getItem("jikimi-grey") === "1" ? "0" : "1"); applyGrey(); break;
      case "c": if (card) { var c = card.querySelector("[data-action=confirm]"); if (c) c.click(); } break;
      case "d": if (card) { var d = card.querySelector("[data-action=dismiss]"); if (d) d.click(); } break;
      default: return;
    }
    ev.preventDefault();
  });
  document.addEventListener("click", function (ev) {
    var card = ev.target.closest("[data-finding]");
    if (card) select(card);
  });
  // After a card is replaced by the server (reviewed), go on to the next one.
  document.body.addEventListener("htmx:afterSwap", function (ev) {
    if (!document.querySelector("[data-review-queue]")) return;
    var el = ev.detail && ev.detail.elt;
    var card = el && el.closest ? el.closest("[data-finding]") : null;
    var list = cards();
    var i = card ? list.indexOf(card) : -1;
    if (i < 0) { i = list.findIndex(function (c) { return !c.isConnected; }); }
    // Go on to the next card still waiting for review (after the one just decided).
    var next = list.slice(i + 1).concat(list.slice(0, i + 1)).find(function (c) { return c.querySelector("[data-action=confirm]"); });
    select(next || card || list[0]);
  });
  if (document.querySelector("[data-review-queue]")) { move(0); }

  // Drag-and-drop upload with progress; the scan's own progress is then polled by htmx.
  var zone = document.querySelector("[data-dropzone]");
  if (zone) {
    var form = zone.closest("form");
    var input = form.querySelector("input[type=file]");
    var bar = form.querySelector("progress");
    var status = form.querySelector("[data-upload-status]");
    ["dragenter", "dragover"].forEach(function (n) { zone.addEventListener(n, function (e) { e.preventDefault(); zone.classList.add("over"); }); });
    ["dragleave", "drop"].forEach(function (n) { zone.addEventListener(n, function (e) { e.preventDefault(); zone.classList.remove("over"); }); });
    zone.addEventListener("drop", function (e) { if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; send(); } });
    zone.addEventListener("click", function () { input.click(); });
    zone.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); } });
    input.addEventListener("change", function () { if (input.files.length) send(); });
    var folderInput = form.querySelector("[data-folder-input]");
    if (folderInput) folderInput.addEventListener("change", function () { if (folderInput.files.length) send(); });
    form.addEventListener("submit", function (e) { e.preventDefault(); send(); });
    function send() {
      var data = new FormData(form);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("action"));
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("HX-Request", "true");
      if (bar) { bar.hidden = false; bar.value = 0; }
      xhr.upload.addEventListener("progress", function (e) { if (e.lengthComputable && bar) bar.value = e.loaded / e.total * 100; });
      xhr.addEventListener("load", function () {
        var target = document.querySelector(form.getAttribute("data-target") || "#scan-status");
        if (xhr.status >= 200 && xhr.status < 300) {
          target.innerHTML = xhr.responseText;
          if (window.htmx) window.htmx.process(target);
          if (status) status.textContent = status.getAttribute("data-done") || "";
        } else if (status) {
          var msg = xhr.responseText;
          try { msg = JSON.parse(xhr.responseText).detail; } catch (err) { /* HTML error */ }
          status.textContent = (status.getAttribute("data-failed") || "") + " " + msg;
        }
      });
      xhr.send(data);
    }
  }
})();
