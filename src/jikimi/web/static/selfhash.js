// Hash photos and videos on this device (StopNCII's model): PDQ + its 8 dihedral variants and MD5 for photos,
// MD5 for videos. Only the hashes (and the consent) are sent, as JSON; the files never leave the browser.
// Photos are hashed as stored, like the server's standard decode: no EXIF rotation, no colour management.
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

  // The EXIF orientation (1-8) of a JPEG (APP1) or PNG (eXIf), which Chromium applies while decoding; 1 when
  // there is none. (It ignores a WebP's EXIF orientation, as Pillow does: nothing to undo there.)
  function tiffOrientation(v, at, end) {
    if (at + 8 > end) return 1;
    var little = v.getUint16(at) === 0x4949;
    var ifd = at + v.getUint32(at + 4, little);
    if (ifd + 2 > end) return 1;
    var n = v.getUint16(ifd, little);
    for (var i = 0; i < n; i++) {
      var e = ifd + 2 + i * 12;
      if (e + 12 > end) break;
      if (v.getUint16(e, little) === 0x0112) {
        var o = v.getUint16(e + 8, little);
        return o >= 1 && o <= 8 ? o : 1;
      }
    }
    return 1;
  }
  function isExif(v, at, end) {
    return at + 6 <= end && v.getUint32(at) === 0x45786966 && v.getUint16(at + 4) === 0;
  }
  function orientationOf(buf) {
    var v = new DataView(buf);
    var end = v.byteLength;
    try {
      if (end > 4 && v.getUint16(0) === 0xffd8) {
        var at = 2;
        while (at + 4 <= end && v.getUint8(at) === 0xff) {
          var marker = v.getUint8(at + 1);
          if (marker === 0xda || marker === 0xd9) break;
          var len = v.getUint16(at + 2);
          if (marker === 0xe1 && isExif(v, at + 4, end)) return tiffOrientation(v, at + 10, Math.min(end, at + 2 + len));
          at += 2 + len;
        }
      } else if (end > 8 && v.getUint32(0) === 0x89504e47) {
        for (var p = 8; p + 8 <= end; ) {
          var clen = v.getUint32(p);
          var type = v.getUint32(p + 4);
          if (type === 0x65584966) return tiffOrientation(v, p + 8, Math.min(end, p + 8 + clen)); // eXIf
          if (type === 0x49444154) break; // IDAT: eXIf comes before the image data
          p += 12 + clen;
        }
      }
    } catch (err) {
      return 1;
    }
    return 1;
  }

  // Undo the orientation the browser applied: back to the pixels as stored (what the server hashes).
  function unorient(rgba, w, h, o) {
    if (o === 1) return { data: rgba, width: w, height: h };
    var src = new Uint32Array(rgba.buffer, rgba.byteOffset, w * h);
    var swap = o >= 5;
    var sw = swap ? h : w, sh = swap ? w : h;
    var out = new Uint32Array(sw * sh);
    for (var y = 0; y < sh; y++) {
      for (var x = 0; x < sw; x++) {
        var ux, uy;
        switch (o) {
          case 2: ux = w - 1 - x; uy = y; break;
          case 3: ux = w - 1 - x; uy = h - 1 - y; break;
          case 4: ux = x; uy = h - 1 - y; break;
          case 5: ux = y; uy = x; break;
          case 6: ux = w - 1 - y; uy = x; break;
          case 7: ux = w - 1 - y; uy = h - 1 - x; break;
          default: ux = y; uy = h - 1 - x; break; // 8
        }
        out[y * sw + x] = src[uy * w + ux];
      }
    }
    return { data: new Uint8ClampedArray(out.buffer), width: sw, height: sh };
  }

  // The pixels as stored in the file, like the server's standard decode: 8-bit RGBA, no colour-space
  // conversion, and no EXIF rotation (browsers apply it while decoding, so it is undone here).
  function pixelsOf(blob) {
    return blob.slice(0, 256 * 1024).arrayBuffer().then(function (head) {
      var o = orientationOf(head);
      return root
        .createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" })
        .then(function (bmp) {
          var w = bmp.width, h = bmp.height;
          var canvas = new OffscreenCanvas(w, h);
          var ctx = canvas.getContext("2d", { willReadFrequently: true });
          ctx.drawImage(bmp, 0, 0);
          bmp.close();
          return unorient(ctx.getImageData(0, 0, w, h).data, w, h, o);
        });
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

  root.JikimiSelfHash = { hashFile: hashFile, md5OfBlob: md5OfBlob, pixelsOf: pixelsOf, orientationOf: orientationOf };

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
