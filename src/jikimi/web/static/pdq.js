/* PDQ perceptual hash (Meta's algorithm) in plain JavaScript, written from the reference C++ (pdqhashing).
 *
 * Every step keeps the reference's 32-bit float arithmetic (Math.fround), so the same pixels give the same
 * 256 bits as the server's `pdqhash`:
 *   RGB -> luminance (0.299 R + 0.587 G + 0.114 B, as pdqhash computes it, rounded to float32);
 *   two passes of Jarosz box filters (window sizes from computeJaroszFilterWindowSize);
 *   decimation to 64x64; quality from the gradient sum; 16x16 DCT (frequencies 1..16);
 *   median threshold -> 256 bits; the 8 dihedral variants computed from the DCT.
 * Hex digits as the reference's Hash256::format (word 15 first), which is jikimi.signals.pdq's hex.
 */
(function (root) {
  "use strict";
  var f32 = Math.fround;
  var DIHEDRAL = ["original", "rotate90", "rotate180", "rotate270", "flipx", "flipy", "flipplus1", "flipminus1"];
  var MIN_HASHABLE_DIM = 5;

  var DCT = (function () {
    var m = new Float32Array(16 * 64);
    var scale = Math.fround(Math.sqrt(2.0 / 64.0));
    for (var i = 0; i < 16; i++) {
      for (var j = 0; j < 64; j++) {
        m[i * 64 + j] = scale * Math.cos((Math.PI / 2 / 64.0) * (i + 1) * (2 * j + 1));
      }
    }
    return m;
  })();

  function windowSize(oldDim, newDim) {
    return Math.floor((oldDim + 2 * newDim - 1) / (2 * newDim));
  }

  // box1DFloat of the reference: a running sum, shorter windows at both ends.
  function box1D(inv, inOff, outv, outOff, length, stride, full) {
    var half = Math.floor((full + 2) / 2);
    var p1 = half - 1;
    var p2 = full - half + 1;
    var p3 = length - full;
    var p4 = half - 1;
    var li = inOff, ri = inOff, oi = outOff;
    var sum = 0;
    var n = 0;
    var i;
    for (i = 0; i < p1; i++) {
      sum = f32(sum + inv[ri]);
      n++;
      ri += stride;
    }
    for (i = 0; i < p2; i++) {
      sum = f32(sum + inv[ri]);
      n++;
      outv[oi] = sum / n;
      ri += stride;
      oi += stride;
    }
    for (i = 0; i < p3; i++) {
      sum = f32(sum + inv[ri]);
      sum = f32(sum - inv[li]);
      outv[oi] = sum / n;
      li += stride;
      ri += stride;
      oi += stride;
    }
    for (i = 0; i < p4; i++) {
      sum = f32(sum - inv[li]);
      n--;
      outv[oi] = sum / n;
      li += stride;
      oi += stride;
    }
  }

  function jarosz(buf1, buf2, rows, cols, winAlongRows, winAlongCols, reps) {
    for (var r = 0; r < reps; r++) {
      for (var i = 0; i < rows; i++) box1D(buf1, i * cols, buf2, i * cols, cols, 1, winAlongRows);
      for (var j = 0; j < cols; j++) box1D(buf2, j, buf1, j, rows, cols, winAlongCols);
    }
  }

  function decimate(inp, rows, cols) {
    var out = new Float32Array(64 * 64);
    for (var i = 0; i < 64; i++) {
      var ini = Math.floor(((i + 0.5) * rows) / 64);
      for (var j = 0; j < 64; j++) {
        var inj = Math.floor(((j + 0.5) * cols) / 64);
        out[i * 64 + j] = inp[ini * cols + inj];
      }
    }
    return out;
  }

  function quality(b) {
    var sum = 0;
    var i, j, d;
    for (i = 0; i < 63; i++) {
      for (j = 0; j < 64; j++) {
        d = Math.trunc(f32(f32(f32(b[i * 64 + j] - b[(i + 1) * 64 + j]) * 100) / 255));
        sum += Math.abs(d);
      }
    }
    for (i = 0; i < 64; i++) {
      for (j = 0; j < 63; j++) {
        d = Math.trunc(f32(f32(f32(b[i * 64 + j] - b[i * 64 + j + 1]) * 100) / 255));
        sum += Math.abs(d);
      }
    }
    return Math.min(100, Math.floor(sum / 90));
  }

  function dct64To16(a) {
    var t = new Float32Array(16 * 64);
    var b = new Float32Array(256);
    var i, j, k, s;
    for (i = 0; i < 16; i++) {
      for (j = 0; j < 64; j++) {
        s = 0;
        for (k = 0; k < 64; k++) s = f32(s + f32(DCT[i * 64 + k] * a[k * 64 + j]));
        t[i * 64 + j] = s;
      }
    }
    for (i = 0; i < 16; i++) {
      for (j = 0; j < 16; j++) {
        s = 0;
        for (k = 0; k < 64; k++) s = f32(s + f32(t[i * 64 + k] * DCT[j * 64 + k]));
        b[i * 16 + j] = s;
      }
    }
    return b;
  }

  function toHex(b) {
    var sorted = Float32Array.from(b).sort();
    var median = sorted[127]; // torben's median of 256 values: the 128th smallest
    var words = new Uint16Array(16);
    for (var k = 0; k < 256; k++) {
      if (b[k] > median) words[k >> 4] |= 1 << (k & 15);
    }
    var hex = "";
    for (var w = 15; w >= 0; w--) hex += ("000" + words[w].toString(16)).slice(-4);
    return hex;
  }

  // The reference's dct16OriginalTo* sign/transpose rules, in DIHEDRAL order.
  function variant(a, name) {
    var out = new Float32Array(256);
    for (var i = 0; i < 16; i++) {
      for (var j = 0; j < 16; j++) {
        var v = a[i * 16 + j];
        switch (name) {
          case "original": out[i * 16 + j] = v; break;
          case "rotate90": out[j * 16 + i] = j & 1 ? v : -v; break;
          case "rotate180": out[i * 16 + j] = (i + j) & 1 ? -v : v; break;
          case "rotate270": out[j * 16 + i] = i & 1 ? v : -v; break;
          case "flipx": out[i * 16 + j] = i & 1 ? v : -v; break;
          case "flipy": out[i * 16 + j] = j & 1 ? v : -v; break;
          case "flipplus1": out[j * 16 + i] = v; break;
          case "flipminus1": out[j * 16 + i] = (i + j) & 1 ? -v : v; break;
        }
      }
    }
    return out;
  }

  /* Hash RGBA (or RGB with channels=3) 8-bit pixels, row-major. Returns
   * {hash, quality, dihedral: {name: hex}}. */
  function hashPixels(pixels, width, height, channels) {
    var ch = channels || 4;
    var n = width * height;
    var zero = "0".repeat(64);
    if (width < MIN_HASHABLE_DIM || height < MIN_HASHABLE_DIM) {
      var empty = {};
      DIHEDRAL.forEach(function (d) { empty[d] = zero; });
      return { hash: zero, quality: 0, dihedral: empty };
    }
    var luma = new Float32Array(n);
    for (var p = 0, q = 0; p < n; p++, q += ch) {
      luma[p] = pixels[q] * 0.299 + pixels[q + 1] * 0.587 + pixels[q + 2] * 0.114;
    }
    var tmp = new Float32Array(n);
    jarosz(luma, tmp, height, width, windowSize(width, 64), windowSize(height, 64), 2);
    var small = decimate(luma, height, width);
    var qual = quality(small);
    var coeffs = dct64To16(small);
    var dihedral = {};
    DIHEDRAL.forEach(function (d) { dihedral[d] = toHex(variant(coeffs, d)); });
    return { hash: dihedral.original, quality: qual, dihedral: dihedral };
  }

  var api = { hashPixels: hashPixels, DIHEDRAL: DIHEDRAL };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.JikimiPDQ = api;
})(typeof self !== "undefined" ? self : this);
