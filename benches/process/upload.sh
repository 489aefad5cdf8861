#!/usr/bin/env bash
# Upload throughput and client peak RSS for a 1 GiB recording: ours (streamed from the file),
# the published 0.0.37 (reads the file into memory), and `curl --data-binary @file`, each against
# the same emulator endpoint; curl both as asked (`--data-binary @file`, which loads the file into
# memory) and streaming (`-T file`). Usage: benches/process/upload.sh [SIZE_MIB]   (default 1024)
source "$(dirname "$0")/common.sh"
build_bench_client
size_mib="${1:-1024}"
start_platform
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$WORK/recording.wav"
bytes=$(stat -c %s "$WORK/recording.wav")
echo "| client | MiB/s | wall s | peak RSS MiB |"
echo "|---|---|---|---|"
for who in ours wpc curl-data-binary curl-T; do
  id="rec-$who"
  "$BIN/examples/bench_client" prepare-recording "$URL" "$TOKEN" "$id" "$bytes"
  curl_put=(curl -sS -f -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" -H "Content-Type: audio/wav")
  case "$who" in
    curl-data-binary) cmd=("${curl_put[@]}" --data-binary "@$WORK/recording.wav" "$URL/api/voice/recordings/$id/bytes") ;;
    curl-T) cmd=("${curl_put[@]}" -T "$WORK/recording.wav" "$URL/api/voice/recordings/$id/bytes") ;;
    *) cmd=("$BIN/examples/bench_client" upload "$who" "$URL" "$TOKEN" "$id" "$WORK/recording.wav") ;;
  esac
  if ! /usr/bin/time -f '%e %M' -o "$WORK/time" "${cmd[@]}" >/dev/null 2>"$WORK/err"; then
    echo "| $who | failed: $(grep -v '^Command exited' "$WORK/err" | head -1) | | |"
    continue
  fi
  read -r wall rss_kib <"$WORK/time"
  awk -v who="$who" -v b="$bytes" -v w="$wall" -v r="$rss_kib" \
    'BEGIN { printf "| %s | %.0f | %.2f | %.1f |\n", who, b / 1048576 / w, w, r / 1024 }'
  rm -f "$WORK/blobs/"*/* 2>/dev/null || true
done
