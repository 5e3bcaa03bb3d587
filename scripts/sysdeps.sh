#!/usr/bin/env bash
# System packages the Python dependencies need: FFmpeg headers (vpdq compiles against them), SWIG and a C++
# compiler (tmkpy builds TMK), Chromium for the browser end-to-end tests, npm for the front-end libraries.
# Installs only what is missing.
set -euo pipefail
need=()
for lib in libavformat libavcodec libavdevice libavfilter libswresample libswscale libavutil; do
  pkg-config --exists "$lib" 2>/dev/null || need+=("${lib}-dev")
done
command -v pkg-config >/dev/null || need+=(pkg-config)
# tmkpy (TMK+PDQF video hashing) builds Meta's TMK C++ library and its SWIG bindings from source.
command -v swig >/dev/null || need+=(swig)
command -v g++ >/dev/null || need+=(g++)
command -v make >/dev/null || need+=(make)
command -v chromium >/dev/null || need+=(chromium)
# npm installs the pinned front-end libraries (package-lock.json) that the web app serves.
command -v npm >/dev/null || need+=(npm)
# A Hangul font for Korean takedown notices as PDF (jikimi.takedown.pdf finds it at runtime).
[ -e /usr/share/fonts/truetype/nanum/NanumGothic.ttf ] || need+=(fonts-nanum)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "Missing system packages: ${need[*]}" >&2
  echo "Install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${need[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
