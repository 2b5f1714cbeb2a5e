#!/usr/bin/env bash
# Interop suite: Debian's mosquitto_pub / mosquitto_sub (MQTT 3.1.1 and 5), kcat (Kafka,
# librdkafka) and kafka-python (python3-kafka, an older Kafka protocol generation) against the
# real broker process. Run: npm run test:interop (installs mosquitto-clients, kcat and
# python3-kafka with apt-get if needed).
#
# Every subscriber prints one line per message: topic|qos|retain|payload-hex|user-properties,
# so payloads (binary ones too) are compared exactly. A subscriber is known to be subscribed
# once a probe published to its own sync/<name> topic comes back; no check relies on sleeping.
#
# The `timeout ... bash -c '...'` waits take their arguments as "$1", "$2" on purpose:
# shellcheck disable=SC2016
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODE="$ROOT/node_modules/.bin/node"
HOST=127.0.0.1
WAIT_S=10          # bound on any single wait (broker start, one message, one client call)
SUB_LIFETIME_S=60  # mosquitto_sub -W: a background subscriber never outlives this
PROBE_TRIES_MAX=50 # sync probes per subscriber (one every 0.1 s)
FORMAT='%t|%q|%r|%x|%P'

PASSED=0
FAILED=0
SEQ=0
PORT=""
TLS_PORT=""
BROKER_PID=""
SUB_PIDS=()
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rmq-interop-XXXXXX")"

cleanup() {
  local pid
  for pid in "${SUB_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  if [[ -n "$BROKER_PID" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
    kill -TERM "$BROKER_PID" 2>/dev/null
    timeout 10 tail --pid="$BROKER_PID" -f /dev/null 2>/dev/null ||
      kill -KILL "$BROKER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '%s\n' "$*" >&2; }

pass() {
  PASSED=$((PASSED + 1))
  printf 'PASS %s\n' "$1"
}

fail() {
  FAILED=$((FAILED + 1))
  printf 'FAIL %s%s\n' "$1" "${2:+: $2}"
}

# ---- setup --------------------------------------------------------------------------------

have_clients() {
  command -v mosquitto_pub >/dev/null && command -v mosquitto_sub >/dev/null &&
    command -v kcat >/dev/null && /usr/bin/python3 -c 'import kafka' 2>/dev/null
}

ensure_clients() {
  have_clients && return 0
  local sudo=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || { log "mosquitto-clients or kcat missing, not root"; return 1; }
    sudo=(sudo -n)
  fi
  log "installing mosquitto-clients, kcat and python3-kafka with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  timeout 300 "${sudo[@]}" apt-get update -qq </dev/null >&2 || return 1
  timeout 300 "${sudo[@]}" apt-get install -y -qq --no-install-recommends mosquitto-clients \
    kcat python3-kafka </dev/null >&2 || return 1
  have_clients
}

# kcat against its own broker process (a node:test file: it also needs kafkajs).
check_kcat() {
  if timeout 120 "$NODE" --test --test-reporter=spec "$ROOT/test/interop/kcat.test.ts"; then
    pass "kcat consumes and produces (test/interop/kcat.test.ts)"
  else
    fail "kcat (test/interop/kcat.test.ts)"
  fi
  if timeout 120 "$NODE" --test --test-reporter=spec "$ROOT/test/interop/kcat-sasl.test.ts"; then
    pass "kcat authenticates with SASL over TLS (test/interop/kcat-sasl.test.ts)"
  else
    fail "kcat SASL (test/interop/kcat-sasl.test.ts)"
  fi
}

# kafka-python against its own broker process (a node:test file, as for kcat).
check_kafka_python() {
  if timeout 120 "$NODE" --test --test-reporter=spec "$ROOT/test/interop/kafka-python.test.ts"; then
    pass "kafka-python produces and consumes in a group, alters a topic config, logs in by SASL (test/interop/kafka-python.test.ts)"
  else
    fail "kafka-python (test/interop/kafka-python.test.ts)"
  fi
}

# A CA and a server certificate for 127.0.0.1, for the MQTT over TLS listener.
make_certs() {
  local c=$WORK/certs
  mkdir -p "$c"
  {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -subj "/CN=interop CA" -keyout "$c/ca.key" -out "$c/ca.pem" &&
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -subj "/CN=127.0.0.1" -keyout "$c/server.key" -out "$c/server.csr" &&
      printf 'subjectAltName = IP:127.0.0.1\n' >"$c/server.ext" &&
      openssl x509 -req -in "$c/server.csr" -CA "$c/ca.pem" -CAkey "$c/ca.key" \
        -CAcreateserial -days 2 -extfile "$c/server.ext" -out "$c/server.pem"
  } >"$WORK/openssl.log" 2>&1
}

# Starts the broker on free loopback ports (TLS too) and sets PORT and TLS_PORT from its
# "listener" log lines.
start_broker() {
  mkdir -p "$WORK/data"
  make_certs || { log "openssl failed:"; cat "$WORK/openssl.log" >&2; return 1; }
  printf '[network]\nbind_address = "%s"\n[mqtt_tls]\nenable = true\n' "$HOST" >"$WORK/robustmq.toml"
  printf '[tls]\ncert_file = "%s"\nkey_file = "%s"\n' "$WORK/certs/server.pem" \
    "$WORK/certs/server.key" >>"$WORK/robustmq.toml"
  # Every listener on a free port: a fixed default one may be taken on a shared machine.
  "$NODE" "$ROOT/src/cli/main.ts" start --mqtt-port 0 --kafka-port 0 --ws-port 0 --tls-port 0 \
    --http-port 0 --data-dir "$WORK/data" \
    --config "$WORK/robustmq.toml" >"$WORK/broker.log" 2>&1 &
  BROKER_PID=$!
  # Listeners log one by one; the node is up once it logs "RobustMQ started".
  if ! timeout "$WAIT_S" bash -c 'until grep -qF -- "$1" "$2"; do sleep 0.05; done' _ \
    '"msg":"RobustMQ started"' "$WORK/broker.log"; then
    log "broker did not start:"; cat "$WORK/broker.log" >&2
    return 1
  fi
  PORT="$(grep -F -- '"listener":"mqtt"' "$WORK/broker.log" | head -n 1 |
    sed -n 's/.*"address":"[^"]*:\([0-9][0-9]*\)".*/\1/p')"
  [[ "$PORT" =~ ^[0-9]+$ ]] || { log "no port in broker log"; return 1; }
  TLS_PORT="$(grep -F -- '"listener":"mqtts"' "$WORK/broker.log" | head -n 1 |
    sed -n 's/.*"address":"[^"]*:\([0-9][0-9]*\)".*/\1/p')"
  [[ "$TLS_PORT" =~ ^[0-9]+$ ]] || { log "no mqtts port in broker log"; return 1; }
  log "broker pid $BROKER_PID listening on $HOST:$PORT (TLS: $TLS_PORT)"
}

# ---- helpers ------------------------------------------------------------------------------

hex_of_file() { od -An -v -tx1 "$1" | tr -d ' \n'; }
hex_of_text() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }

# pub VERSION ARGS...: one bounded mosquitto_pub call.
pub() {
  local version=$1
  shift
  timeout "$WAIT_S" mosquitto_pub -h "$HOST" -p "$PORT" -V "$version" "$@" \
    2>>"$WORK/pub.err" </dev/null
}

# wait_line FILE LINE: waits (bounded) until FILE has exactly LINE as one of its lines. LINE
# goes through a file: a 256 KiB payload in hex is too long for one argument.
wait_line() {
  printf '%s\n' "$2" >"$WORK/expected.line"
  timeout "$WAIT_S" bash -c 'until grep -qFx -f "$2" "$1" 2>/dev/null; do sleep 0.05; done' _ \
    "$1" "$WORK/expected.line"
}

# sub_start NAME VERSION ARGS...: background subscriber writing $WORK/NAME.out; sets SUB_PID.
# Prints with -F "$FORMAT" unless SUB_OUTPUT says otherwise. Returns once it is subscribed (a
# probe on sync/NAME came back), or 1 if it never is.
SUB_OUTPUT=(-F "$FORMAT")
sub_start() {
  local name=$1 version=$2
  shift 2
  mosquitto_sub -h "$HOST" -p "$PORT" -V "$version" -i "sub-$name" -W "$SUB_LIFETIME_S" \
    "${SUB_OUTPUT[@]}" -t "sync/$name" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
  SUB_PID=$!
  SUB_PIDS+=("$SUB_PID")
  sub_sync "$name"
}

# sub_sync NAME: publishes probes to sync/NAME until one reaches the subscriber (0.1 s each).
# The broker routes in arrival order, so messages published before the call have arrived
# once this returns.
sub_sync() {
  local name=$1 i token
  for ((i = 1; i <= PROBE_TRIES_MAX; i++)); do
    token="probe-$RANDOM-$i"
    pub mqttv311 -q 1 -t "sync/$name" -m "$token" || return 1
    if timeout 0.1 bash -c 'until grep -qF -e "$2" -e "$3" "$1"; do sleep 0.02; done' _ \
      "$WORK/$name.out" "|$(hex_of_text "$token")|" "sync/$name $token" 2>/dev/null; then
      return 0
    fi
  done
  return 1
}

# sub_stop PID [SIGNAL]: ends one background subscriber (SIGNAL, default TERM; a bounded wait,
# then KILL) and reaps it. Bash's "Killed" job report is silenced with the rest.
sub_stop() {
  local pid=$1 signal=${2:-TERM} kept=() p
  {
    kill "-$signal" "$pid"
    timeout "$WAIT_S" tail --pid="$pid" -f /dev/null || kill -KILL "$pid"
    wait "$pid"
  } 2>/dev/null
  for p in "${SUB_PIDS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
  SUB_PIDS=("${kept[@]}")
}

# expect_once NAME FILE LINE: LINE arrives, and after one more sync exactly once.
expect_once() {
  local check=$1 sub=$2 line=$3
  if ! wait_line "$WORK/$sub.out" "$line"; then
    local got
    got="$(cut -c1-160 "$WORK/$sub.out" | grep -v '^sync/' | head -n 3)"
    fail "$check" "not received; got: $got"
    return
  fi
  sub_sync "$sub" || { fail "$check" "subscriber stopped answering"; return; }
  local n
  n="$(grep -cFx -f "$WORK/expected.line" "$WORK/$sub.out")"
  if [[ "$n" == 1 ]]; then pass "$check"; else fail "$check" "received $n times"; fi
}

# ---- checks -------------------------------------------------------------------------------

short() { [[ $1 == mqttv5 ]] && echo v5 || echo v311; }

# One publish of FILE at QOS from a PUB_VERSION client to a SUB_VERSION subscriber.
check_delivery() {
  local check=$1 pub_version=$2 sub_version=$3 qos=$4 file=$5
  SEQ=$((SEQ + 1))
  local name="d-$SEQ" topic
  topic="interop/$name"
  if ! sub_start "$name" "$sub_version" -q 2 -t "$topic"; then
    fail "$check" "subscriber not ready"
    return
  fi
  if ! pub "$pub_version" -q "$qos" -t "$topic" -f "$file"; then
    fail "$check" "mosquitto_pub failed: $(tail -n 1 "$WORK/pub.err")"
  else
    expect_once "$check" "$name" "$topic|$qos|0|$(hex_of_file "$file")|"
  fi
  sub_stop "$SUB_PID"
}

check_qos_matrix() {
  printf 'hello from mosquitto_pub' >"$WORK/text.bin"
  local pv sv q
  for pv in mqttv311 mqttv5; do
    for sv in mqttv311 mqttv5; do
      for q in 0 1 2; do
        check_delivery "qos$q $(short "$pv")->$(short "$sv") text" "$pv" "$sv" "$q" "$WORK/text.bin"
      done
    done
  done
}

check_payloads() {
  # Every byte value, then random bytes: a binary payload read with -f.
  local i
  for ((i = 0; i < 256; i++)); do printf '%b' "\\$(printf '%03o' "$i")"; done >"$WORK/binary.bin"
  head -c 4096 /dev/urandom >>"$WORK/binary.bin"
  head -c 262144 /dev/urandom >"$WORK/big.bin"
  local v q
  for v in mqttv311 mqttv5; do
    for q in 1 2; do
      check_delivery "qos$q $(short "$v") binary 4352 B (-f)" "$v" "$v" "$q" "$WORK/binary.bin"
    done
    for q in 0 1 2; do
      check_delivery "qos$q $(short "$v") 256 KiB payload" "$v" "$v" "$q" "$WORK/big.bin"
    done
  done
}

check_retained() {
  local v=$1 s topic payload line name
  s="$(short "$v")"
  topic="interop/retain/$s"
  payload="kept-$s"
  line="$topic|1|1|$(hex_of_text "$payload")|"
  pub "$v" -q 1 -r -t "$topic" -m "$payload" || { fail "retained $s set" "publish failed"; return; }
  # A later plain subscriber gets it, flagged retain.
  name="r-late-$s"
  if sub_start "$name" "$v" -q 1 -t "$topic"; then
    expect_once "retained $s: later subscriber gets it with retain flag" "$name" "$line"
    sub_stop "$SUB_PID"
  else
    fail "retained $s: later subscriber" "subscriber not ready"
  fi
  # --retained-only takes the retained message and exits.
  name="r-only-$s"
  timeout "$WAIT_S" mosquitto_sub -h "$HOST" -p "$PORT" -V "$v" -i "sub-$name" -q 1 \
    -t "$topic" --retained-only -C 1 -W "$WAIT_S" -F "$FORMAT" >"$WORK/$name.out" 2>&1 </dev/null
  if grep -qFx -- "$line" "$WORK/$name.out"; then
    pass "retained $s: --retained-only subscriber gets it"
  else
    fail "retained $s: --retained-only subscriber" "got: $(head -c 200 "$WORK/$name.out")"
  fi
  # -R hides stale (retained) messages: nothing but probes is printed.
  check_no_retained "retained $s: -R subscriber prints nothing stale" "r-hide-$s" "$v" "$topic" -R
  # An empty retained publish clears it [MQTT-3.3.1-6]: a new subscriber gets nothing.
  pub "$v" -q 1 -r -n -t "$topic" || { fail "retained $s clear" "publish failed"; return; }
  check_no_retained "retained $s: cleared by empty retained publish (-n -r)" "r-gone-$s" "$v" \
    "$topic"
}

# Retained messages are sent right after SUBACK, so once a later probe is back none can follow.
check_no_retained() {
  local check=$1 name=$2 v=$3 topic=$4
  shift 4
  if ! sub_start "$name" "$v" -q 1 -t "$topic" "$@"; then
    fail "$check" "subscriber not ready"
    return
  fi
  sub_stop "$SUB_PID"
  if grep -qF -- "$topic|" "$WORK/$name.out"; then
    fail "$check" "got: $(grep -F -- "$topic|" "$WORK/$name.out" | head -n 1)"
  else
    pass "$check"
  fi
}

check_will() {
  local v=$1 s topic payload watcher client extra=() props=""
  s="$(short "$v")"
  topic="interop/will/$s"
  payload="gone-$s"
  watcher="w-watch-$s"
  client="w-client-$s"
  if [[ $v == mqttv5 ]]; then
    extra=(-D will user-property wk wv)
    props="wk:wv"
  fi
  sub_start "$watcher" "$v" -q 1 -t "$topic" || { fail "will $s" "watcher not ready"; return; }
  local watcher_pid=$SUB_PID
  if ! sub_start "$client" "$v" -q 0 --will-topic "$topic" --will-payload "$payload" \
    --will-qos 1 "${extra[@]}"; then
    fail "will $s" "will client not ready"
    sub_stop "$watcher_pid"
    return
  fi
  sub_stop "$SUB_PID" KILL
  expect_once "will $s: delivered after SIGKILL of the client" "$watcher" \
    "$topic|1|0|$(hex_of_text "$payload")|$props"
  sub_stop "$watcher_pid"
}

check_user_properties() {
  local topic=interop/props payload="with user properties" hex
  hex="$(hex_of_text "$payload")"
  sub_start up-v5 mqttv5 -q 1 -t "$topic" || { fail "user properties" "v5 sub not ready"; return; }
  local v5_pid=$SUB_PID
  if ! sub_start up-v311 mqttv311 -q 1 -t "$topic"; then
    fail "user properties" "v311 sub not ready"
    sub_stop "$v5_pid"
    return
  fi
  local v311_pid=$SUB_PID
  if pub mqttv5 -q 1 -t "$topic" -m "$payload" -D publish user-property k v \
    -D publish user-property k v2 -D publish user-property "name with space" "é"; then
    # In wire order, duplicates kept [MQTT-3.3.2-18].
    expect_once "user properties v5->v5: all arrive in order (-F %P)" up-v5 \
      "$topic|1|0|$hex|k:v k:v2 name with space:é"
    expect_once "user properties v5->v311: payload arrives without properties" up-v311 \
      "$topic|1|0|$hex|"
  else
    fail "user properties" "mosquitto_pub failed: $(tail -n 1 "$WORK/pub.err")"
  fi
  sub_stop "$v5_pid"
  sub_stop "$v311_pid"
  # -v prints "topic payload" for a v5 subscriber too.
  SUB_OUTPUT=(-v)
  sub_start up-verbose mqttv5 -q 1 -t "$topic/v"
  local ready=$? verbose_pid=$SUB_PID
  SUB_OUTPUT=(-F "$FORMAT")
  if ((ready == 0)) && pub mqttv5 -q 1 -t "$topic/v" -m "$payload" -D publish user-property a b &&
    wait_line "$WORK/up-verbose.out" "$topic/v $payload"; then
    pass "user properties v5: -v output shows topic and payload"
  else
    fail "user properties v5: -v output" "got: $(head -n 3 "$WORK/up-verbose.out")"
  fi
  sub_stop "$verbose_pid"
}

# mosquitto_sub and mosquitto_pub over TLS with --cafile; a client that does not trust the CA,
# and plain MQTT sent to the TLS port, are refused without harm to the broker.
check_tls() {
  local v name topic payload="over tls" tls=(-p "$TLS_PORT" --cafile "$WORK/certs/ca.pem")
  for v in mqttv311 mqttv5; do
    name="tls-$(short "$v")"
    topic="interop/tls/$name"
    timeout "$WAIT_S" mosquitto_sub -h "$HOST" "${tls[@]}" -V "$v" -i "sub-$name" -q 1 \
      -t "$topic" -C 1 -W "$WAIT_S" -F "$FORMAT" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
    local sub_pid=$!
    SUB_PIDS+=("$sub_pid")
    # Retained, so the subscriber gets it whether or not it subscribed before the publish.
    if ! timeout "$WAIT_S" mosquitto_pub -h "$HOST" "${tls[@]}" -V "$v" -q 1 -r -t "$topic" \
      -m "$payload" 2>>"$WORK/pub.err" </dev/null; then
      fail "TLS $(short "$v"): mosquitto_pub --cafile" "$(tail -n 1 "$WORK/pub.err")"
    fi
    wait "$sub_pid" 2>/dev/null
    timeout "$WAIT_S" mosquitto_pub -h "$HOST" "${tls[@]}" -V "$v" -q 1 -r -n -t "$topic" \
      </dev/null 2>/dev/null
    # Live (retain 0) or, had the publish come first, retained (retain 1).
    if grep -qxE -- "$topic\|1\|[01]\|$(hex_of_text "$payload")\|" "$WORK/$name.out"; then
      pass "TLS $(short "$v"): mosquitto_pub/sub --cafile deliver over mqtts"
    else
      fail "TLS $(short "$v"): mosquitto_sub --cafile" "got: $(head -c 200 "$WORK/$name.out" "$WORK/$name.err")"
    fi
  done
  if timeout "$WAIT_S" mosquitto_pub -h "$HOST" -p "$TLS_PORT" --capath /nonexistent-ca-dir \
    -t interop/tls/untrusted -m x </dev/null 2>/dev/null; then
    fail "TLS: a client without our CA is refused" "it published"
  else
    pass "TLS: a client without our CA is refused"
  fi
  if timeout "$WAIT_S" mosquitto_pub -h "$HOST" -p "$TLS_PORT" -t interop/tls/plain -m x \
    </dev/null 2>/dev/null; then
    fail "TLS: plain MQTT to the TLS port is refused" "it published"
  elif grep -qF 'WRONG_VERSION_NUMBER' "$WORK/broker.log" && kill -0 "$BROKER_PID" 2>/dev/null; then
    pass "TLS: plain MQTT to the TLS port is refused and logged; the broker runs on"
  else
    fail "TLS: plain MQTT to the TLS port" "no log line, or the broker stopped"
  fi
}

main() {
  ensure_clients || { log "cannot install mosquitto-clients, kcat and python3-kafka"; exit 1; }
  start_broker || exit 1
  check_qos_matrix
  check_payloads
  check_retained mqttv311
  check_retained mqttv5
  check_will mqttv311
  check_will mqttv5
  check_user_properties
  check_tls
  check_kcat
  check_kafka_python
  if ! kill -0 "$BROKER_PID" 2>/dev/null; then
    fail "broker still running after the suite"
    log "broker log (last 40 lines):"
    tail -n 40 "$WORK/broker.log" >&2
  fi
  printf 'interop: %d passed, %d failed\n' "$PASSED" "$FAILED"
  [[ $FAILED == 0 ]]
}

main "$@"
