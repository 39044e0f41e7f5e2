#!/bin/bash
# CPU per recorded request (utime+stime of the proxy / requests served), builds interleaved.
# usage: bench/cpu-per-request.sh <rounds> <built checkout>...  (LEVEL=warn to change the log level)
# Each checkout must be built (npx tsc -p tsconfig.json). Interleaving builds round by round is
# what separates a change from the machine's drift.
ROUNDS=$1; shift
tick=$(getconf CLK_TCK)
for r in $(seq 1 $ROUNDS); do
  for B in "$@"; do
    cd $B
    node dist/bench/upstream.js > ${TMPDIR:-/tmp}/cpu-per-request-up.txt 2>&1 &
    UP=$!
    for i in $(seq 1 50); do grep -q READY ${TMPDIR:-/tmp}/cpu-per-request-up.txt && break; sleep 0.1; done
    U=$(grep READY ${TMPDIR:-/tmp}/cpu-per-request-up.txt | cut -d' ' -f2)
    D=$(mktemp -d)
    node dist/src/cli/main.js --port 0 --mode record --upstream $U --cassette-dir $D --log-level ${LEVEL:-info} > ${TMPDIR:-/tmp}/cpu-per-request-proxy.txt 2>&1 &
    P=$!
    for i in $(seq 1 50); do grep -q "listening on" ${TMPDIR:-/tmp}/cpu-per-request-proxy.txt && break; sleep 0.1; done
    URL=$(grep -o 'http://127.0.0.1:[0-9]*' ${TMPDIR:-/tmp}/cpu-per-request-proxy.txt | tail -1)
    node dist/bench/load.js "{\"url\":\"$URL/v1/chat/completions\",\"connections\":32,\"seconds\":2,\"distinct\":1e9}" > /dev/null
    s1=$(awk '{print $14+$15}' /proc/$P/stat)
    out=$(node dist/bench/load.js "{\"url\":\"$URL/v1/chat/completions\",\"connections\":32,\"seconds\":6,\"distinct\":1e9}")
    s2=$(awk '{print $14+$15}' /proc/$P/stat)
    total=$(echo "$out" | grep -o '"total":[0-9]*' | cut -d: -f2)
    rps=$(echo "$out" | grep -o '"rps":[0-9.]*' | cut -d: -f2)
    echo "round $r $(basename $B) level=${LEVEL:-info} rps=$rps cpu_us_per_req=$(( (s2-s1) * 1000000 / tick / total ))"
    kill $P $UP; wait $P $UP 2>/dev/null; rm -rf $D
  done
done
