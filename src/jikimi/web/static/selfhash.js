// Hash photos and videos on this device (StopNCII's model): PDQ + its 8 dihedral variants and MD5 for photos,
// MD5 for videos. Only the hashes (and the consent) are sent, as JSON; the files never leave the browser.
// Photos are decoded as stored, like the server's standard decode: no EXIF rotation, no colour management.
(function (root) {
  "use strict";
  var CHUNK = 4 * 1024 * 1024;
  var VIDEO_EXT = /\.(mp4|m4v|mov|webm|mkv|avi|3gp|ts|mpg|mpeg|wmv|flv)$/i;

  function md5OfBlob(blob) {
    var spark = new root.SparkMD5.ArrayBuffer();
    var offset = 0;
    function next() {
      if (offset >= blob.size) return Promise.resolve(spark.end());
      var part = blob.slice(offset, offset + CHUNK);
      offset += CHUNK;
      return part.arrayBuffer().then(function (buf) { spark.append(buf); return next(); });
    }
    return next();
  }

  // The pixels as stored in the file: 8-bit RGBA, EXIF orientation ignored, no colour-space conversion.
  function pixelsOf(blob) {
    return root
      .createImageBitmap(blob, { imageOrientation: "none", colorSpaceConversion: "none", premultiplyAlpha: "none" })
      .then(function (bmp) {
        var w = bmp.width, h = bmp.height;
        var canvas = new OffscreenCanvas(w, h);
        var ctx = canvas.getContext("2d", { willReadFrequently: true });
        ctx.drawImage(bmp, 0, 0);
        bmp.close();
        return { data: ctx.getImageData(0, 0, w, h).data, width: w, height: h };
      });
  }

  function isVideo(file) {
    return (file.type || "").indexOf("video/") === 0 || VIDEO_EXT.test(file.name || "");
  }

  // {kind, md5, pdq?, pdq_quality?, dihedral?} for one file (rejects when it cannot be read).
  function hashFile(file) {
    return md5OfBlob(file).then(function (md5) {
      if (isVideo(file)) return { kind: "video", md5: md5 };
      return pixelsOf(file).then(function (px) {
        var p = root.JikimiPDQ.hashPixels(px.data, px.width, px.height, 4);
        return { kind: "image", md5: md5, pdq: p.hash, pdq_quality: p.quality, dihedral: p.dihedral };
      });
    });
  }

  root.JikimiSelfHash = { hashFile: hashFile, md5OfBlob: md5OfBlob, pixelsOf: pixelsOf };

  var box = document.getElementById("self-hash");
  if (!box) return;
  var input = document.getElementById("self-hash-files");
  var list = document.getElementById("self-hash-list");
  var body = list.querySelector("tbody");
  var consent = document.getElementById("self-hash-consent");
  var send = document.getElementById("self-hash-send");
  var status = document.getElementById("self-hash-status");
  var csrf = document.body.getAttribute("data-csrf") || "";
  var hashed = [];

  function say(key) { status.textContent = box.getAttribute("data-msg-" + key) || ""; }
  function setState(state) { box.setAttribute("data-state", state); update(); }
  function update() {
    send.disabled = !(consent.checked && hashed.length > 0 && box.getAttribute("data-state") === "ready");
  }
  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
  }

  input.addEventListener("change", function () {
    var files = Array.prototype.slice.call(input.files || []);
    hashed = [];
    body.textContent = "";
    list.hidden = files.length === 0;
    if (!files.length) { setState("empty"); say("x"); return; }
    setState("hashing");
    say("hashing");
    var chain = Promise.resolve();
    files.forEach(function (file, i) {
      chain = chain.then(function () {
        var row = document.createElement("tr");
        row.setAttribute("data-index", String(i));
        cell(row, file.name);
        body.appendChild(row);
        return hashFile(file).then(
          function (h) {
            hashed.push(h);
            row.setAttribute("data-kind", h.kind);
            row.setAttribute("data-md5", h.md5);
            if (h.pdq) {
              row.setAttribute("data-pdq", h.pdq);
              row.setAttribute("data-quality", String(h.pdq_quality));
              row.setAttribute("data-dihedral", JSON.stringify(h.dihedral));
            }
            cell(row, box.getAttribute("data-msg-" + (h.kind === "video" ? "video" : "photo")));
            cell(row, h.pdq ? h.pdq.slice(0, 16) + "…" : "", "mono");
            cell(row, h.md5.slice(0, 16) + "…", "mono");
          },
          function () {
            row.setAttribute("data-error", "1");
            cell(row, box.getAttribute("data-msg-unreadable"), "error");
          }
        );
      });
    });
    chain.then(function () { setState("ready"); say("ready"); });
  });

  consent.addEventListener("change", update);

  send.addEventListener("click", function () {
    if (!consent.checked || !hashed.length) return;
    setState("sending");
    say("sending");
    fetch(box.getAttribute("data-endpoint"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: JSON.stringify({ consent: true, files: hashed }),
    })
      .then(function (resp) {
        if (!resp.ok) throw new Error(String(resp.status));
        return resp.json();
      })
      .then(function (out) {
        box.setAttribute("data-sent", String(out.entries.length));
        hashed = [];
        setState("sent");
        say("sent");
      })
      .catch(function () {
        setState("ready");
        say("failed");
      });
  });
})(self);
