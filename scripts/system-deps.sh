#!/usr/bin/env bash
# System packages some tests use: espeak-ng (synthetic speech), chromium (rendering report.html).
# Installed when missing and we are root; otherwise those tests skip and say why.
set -u
need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v chromium >/dev/null || need+=(chromium)
# ffmpeg publishes the live streams of tests/video/test_live.py; without apt those tests use the
# static binary of the imageio-ffmpeg wheel (the test extra) instead
command -v ffmpeg >/dev/null || need+=(ffmpeg)
# Java runs pycocoevalcap's PTB tokenizer and METEOR (E.T. Bench captioning scores)
command -v java >/dev/null || need+=(default-jre-headless)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${need[*]} (apt)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}") >/dev/null 2>&1 \
    || echo "could not install ${need[*]}; the tests that need them will skip" >&2
else
  echo "missing ${need[*]} (not root): the tests that need them will skip" >&2
fi
exit 0
