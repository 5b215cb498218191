#!/bin/sh
# make bench: wrk against a bare libmicrohttpd hello-world (the ceiling) and a
# freshly started launcher, then the gateway's RSS with 1000 idle keep-alive
# connections. Prints a table and compares to the issue's targets:
#   L0 (GET /healthz)                 >= 60% of hello-world
#   L1 (GET /api/v1/admin/settings)   >= 25000 rps, p99 < 10 ms, >= 25% of L0
#   gateway RSS, 1000 idle conns      < 64 MiB
# and then the auth service, in the same run (after the RSS measurement):
#   A1 GET /api/v1/auth/me, JWT       >= 70% of L1
#   A2 GET /api/v1/auth/me, API key   >= 60% of L1
#   A3 POST /auth/refresh, rotating   >= 5000 rps (BENCH_CONNS connections,
#      each request presents the current refresh token of a session seeded
#      beforehand and puts the new one back: tests/bench/refresh.lua)
#   A4 POST /auth/login               logins/s (reported, no target)
#   A5 GET /auth/me (JWT) during a login flood   p99 < 20 ms
# Not a test: it always exits 0.
#
# Environment: BENCH_DURATION (10s), BENCH_CONNS (64), BENCH_THREADS (2),
# BENCH_IDLE (1000), BENCH_LOG_LEVEL (unset: the default "info", one access
# log line per request; e.g. "warn" to measure without access logs),
# BENCH_LOGIN_CONNS (16: connections of the login runs A4/A5),
# BENCH_PROBE_CONNS (4: connections of the /auth/me probe in A5).
cd "$(dirname "$0")/../.." || exit 0
ROOT=$(pwd)
DUR=${BENCH_DURATION:-10s}
CONNS=${BENCH_CONNS:-64}
THREADS=${BENCH_THREADS:-2}
IDLE=${BENCH_IDLE:-1000}
LCONNS=${BENCH_LOGIN_CONNS:-16}
PCONNS=${BENCH_PROBE_CONNS:-4}
U="python3 $ROOT/tests/bench/util.py"
OUT=$ROOT/build/bench
mkdir -p "$OUT"

SECRET="bench-admin-secret-0123456789abcdef"
KEY="bench-secret-key-0123456789abcdef0123456789abcdef"
DDIR=$(mktemp -d /tmp/bbbench.XXXXXX)
HELLO_PID=
LAUNCH_PID=
FLOOD_PID=

cleanup() {
	[ -n "$FLOOD_PID" ] && kill "$FLOOD_PID" 2>/dev/null
	[ -n "$HELLO_PID" ] && kill "$HELLO_PID" 2>/dev/null
	if [ -n "$LAUNCH_PID" ] && kill -0 "$LAUNCH_PID" 2>/dev/null; then
		kill -TERM "$LAUNCH_PID" 2>/dev/null
		i=0
		while kill -0 "$LAUNCH_PID" 2>/dev/null && [ $i -lt 100 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -KILL "$LAUNCH_PID" 2>/dev/null
	fi
	[ -n "$HELLO_PID" ] && wait "$HELLO_PID" 2>/dev/null
	[ -n "$LAUNCH_PID" ] && wait "$LAUNCH_PID" 2>/dev/null
	# children that outlived the launcher (matched by our DATA_DIR only)
	for p in $(grep -l "DATA_DIR=$DDIR" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
		kill -KILL "$p" 2>/dev/null
	done
	[ -f "$DDIR/launcher.log" ] && cp "$DDIR/launcher.log" "$OUT/launcher.log"
	rm -rf "$DDIR"
}
trap cleanup EXIT
trap 'exit 0' INT TERM

say() { printf 'bench: %s\n' "$*"; }

command -v wrk >/dev/null 2>&1 || { say "wrk not found (make deps-test installs it); skipped"; exit 0; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null

# ---- hello-world ---------------------------------------------------------
HELLO=$OUT/hello
if cc -O2 -std=c17 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra \
	-o "$HELLO" tests/bench/hello.c $(pkg-config --cflags --libs libmicrohttpd) 2>"$OUT/hello.build.log"; then
	HPORT=$($U freeport)
	"$HELLO" "$HPORT" >"$OUT/hello.log" 2>&1 &
	HELLO_PID=$!
	$U wait-http "$HPORT" / 5 || { say "hello-world did not start"; HPORT=; }
else
	say "hello-world build failed (see $OUT/hello.build.log)"
	HPORT=
fi

# ---- launcher ------------------------------------------------------------
if [ ! -x bin/busbase ]; then
	say "bin/busbase is not built; run make"
	LPORT=
else
	LPORT=$($U freeport)
	env DATA_DIR="$DDIR" PORT="$LPORT" ADMIN_SECRET="$SECRET" SECRET_KEY="$KEY" \
		./bin/busbase >"$DDIR/launcher.log" 2>&1 &
	LAUNCH_PID=$!
	if ! $U wait-health "$LPORT" 20; then
		say "launcher not healthy within 20 s; log tail:"
		tail -20 "$DDIR/launcher.log"
		LPORT=
	elif ! st=$($U patch-limits "$LPORT" "$SECRET" $BENCH_LOG_LEVEL); then
		say "PATCH rate limits -> $st (L1 numbers would be 429s)"
	fi
fi

# ---- wrk runs ------------------------------------------------------------
# run NAME PORT PATH [HEADER]  -> sets R_<NAME> = "rps p50 p99 non2xx errors"
run() {
	name=$1; port=$2; path=$3; hdr=$4
	if [ -z "$port" ]; then
		eval "R_$name='0 nan nan 0 0'"; return
	fi
	f=$OUT/wrk-$name.txt
	# 1 s warm-up (connections, caches), not measured
	if [ -n "$hdr" ]; then
		wrk -t"$THREADS" -c"$CONNS" -d1s -H "$hdr" "http://127.0.0.1:$port$path" >/dev/null 2>&1
	else
		wrk -t"$THREADS" -c"$CONNS" -d1s "http://127.0.0.1:$port$path" >/dev/null 2>&1
	fi
	if [ -n "$hdr" ]; then
		wrk -t"$THREADS" -c"$CONNS" -d"$DUR" --latency -H "$hdr" "http://127.0.0.1:$port$path" >"$f" 2>&1
	else
		wrk -t"$THREADS" -c"$CONNS" -d"$DUR" --latency "http://127.0.0.1:$port$path" >"$f" 2>&1
	fi
	eval "R_$name='$($U wrk-parse "$f")'"
}

say "wrk -t$THREADS -c$CONNS -d$DUR --latency (raw output in $OUT/wrk-*.txt); log_level ${BENCH_LOG_LEVEL:-info (default)}"
run hello "$HPORT" /
run L0 "$LPORT" /healthz
if [ -n "$LPORT" ]; then
	st=$($U status "$LPORT" /api/v1/admin/settings "$SECRET")
	[ "$st" = 200 ] || say "warning: GET /api/v1/admin/settings -> $st before the L1 run"
fi
run L1 "$LPORT" /api/v1/admin/settings "Authorization: Bearer $SECRET"

# ---- RSS with idle keep-alive connections -----------------------------------
RSS_LINE="- - - -"
if [ -n "$LPORT" ]; then
	GPID=$($U gateway-pid "$DDIR")
	if [ -n "$GPID" ]; then
		RSS_LINE=$($U idle-rss "$LPORT" "$GPID" "$IDLE")
	else
		say "gateway pid not found"
	fi
fi

# ---- auth ----------------------------------------------------------------
# Seeded after the RSS measurement so that it does not change it.
# run_lua NAME PORT SCRIPT CONNS THREADS DURATION [script args]: no warm-up
# (a refresh token is good once, so a warm-up would use the seeds up).
run_lua() {
	name=$1; port=$2; script=$3; c=$4; t=$5; d=$6; shift 6
	f=$OUT/wrk-$name.txt
	wrk -t"$t" -c"$c" -d"$d" --latency --timeout 10s -s "$script" \
		"http://127.0.0.1:$port" -- "$@" >"$f" 2>&1
	eval "R_$name='$($U wrk-parse "$f")'"
}
AUTH_OK=
for n in A1 A2 A3 A4 A5 A5flood; do eval "R_$n='0 nan nan 0 0'"; done
if [ -n "$LPORT" ]; then
	NSESS=$((CONNS + 8 * THREADS))
	if st=$($U auth-seed "$LPORT" "$SECRET" "$OUT" "$NSESS"); then
		AUTH_OK=1
	else
		say "auth benchmarks skipped: $st"
	fi
fi
if [ -n "$AUTH_OK" ]; then
	JWT=$(cat "$OUT/auth-jwt")
	AKEY=$(cat "$OUT/auth-key")
	st=$($U status "$LPORT" /api/v1/auth/me "$JWT")
	[ "$st" = 200 ] || say "warning: GET /api/v1/auth/me with the JWT -> $st"
	run A1 "$LPORT" /api/v1/auth/me "Authorization: Bearer $JWT"
	run A2 "$LPORT" /api/v1/auth/me "X-API-Key: $AKEY"
	run_lua A3 "$LPORT" tests/bench/refresh.lua "$CONNS" "$THREADS" "$DUR" \
		"$OUT/auth-refresh.txt" "$THREADS"
	AEMAIL=$(cat "$OUT/auth-email")
	APASS=$(cat "$OUT/auth-password")
	run_lua A4 "$LPORT" tests/bench/login.lua "$LCONNS" "$THREADS" "$DUR" "$AEMAIL" "$APASS"
	# A5: the flood runs 2 s longer than the probe, which starts 1 s in
	case $DUR in *s) DS=${DUR%s} ;; *) DS=$DUR ;; esac
	case $DS in ''|*[!0-9]*) DS=10 ;; esac
	wrk -t"$THREADS" -c"$LCONNS" -d"$((DS + 2))s" --latency --timeout 10s \
		-s tests/bench/login.lua "http://127.0.0.1:$LPORT" -- "$AEMAIL" "$APASS" \
		>"$OUT/wrk-A5flood.txt" 2>&1 &
	FLOOD_PID=$!
	sleep 1
	wrk -t1 -c"$PCONNS" -d"${DS}s" --latency -H "Authorization: Bearer $JWT" \
		"http://127.0.0.1:$LPORT/api/v1/auth/me" >"$OUT/wrk-A5.txt" 2>&1
	wait "$FLOOD_PID"
	FLOOD_PID=
	R_A5=$($U wrk-parse "$OUT/wrk-A5.txt")
	R_A5flood=$($U wrk-parse "$OUT/wrk-A5flood.txt")
fi

# ---- data ----------------------------------------------------------------
# tests/bench/data.sh: its own user and 1M-record collection on this
# launcher; progress now (stderr), its table after the auth report.
DATA_REPORT=$OUT/data-report.txt
echo "data: not measured" >"$DATA_REPORT"
if [ -n "$LPORT" ]; then
	set -- $R_L1
	sh tests/bench/data.sh "$LPORT" "$SECRET" "$OUT" "$DUR" "$CONNS" "$THREADS" "$1" >"$DATA_REPORT"
fi

# ---- report --------------------------------------------------------------
set -- $R_hello; H_RPS=$1
set -- $R_L0; L0_RPS=$1
echo
printf '%-34s %10s %9s %9s %9s %9s %8s %7s\n' name rps p50_ms p99_ms vs_hello vs_L0 non2xx errors
row() {
	label=$1; set -- $2
	awk -v l="$label" -v r="$1" -v p50="$2" -v p99="$3" -v n="$4" -v e="$5" \
	    -v h="$H_RPS" -v z="$L0_RPS" 'BEGIN {
		vh = (h > 0) ? sprintf("%.0f%%", 100 * r / h) : "-";
		vz = (z > 0) ? sprintf("%.0f%%", 100 * r / z) : "-";
		printf "%-34s %10.0f %9s %9s %9s %9s %8s %7s\n", l, r, p50, p99, vh, vz, n, e }'
}
row "hello-world (bare MHD)" "$R_hello"
row "L0 GET /healthz" "$R_L0"
row "L1 GET /api/v1/admin/settings" "$R_L1"
set -- $RSS_LINE
echo
if [ "$1" != "-" ]; then
	printf 'gateway RSS: %s KiB idle before, %s KiB with %s keep-alive connections (%s answered, %s still open)\n' \
		"$3" "$4" "$IDLE" "$1" "$2"
	RSS_KIB=$4; RSS_OK=$2
else
	echo "gateway RSS: not measured"
	RSS_KIB=; RSS_OK=0
fi

echo
echo "targets:"
verdict() { if [ "$1" = 1 ]; then echo PASS; else echo MISS; fi; }
set -- $R_L1; L1_RPS=$1; L1_P99=$3; L1_BAD=$(( ${4:-0} + ${5:-0} ))
ok=$(awk -v a="$L0_RPS" -v b="$H_RPS" 'BEGIN{print (b>0 && a>=0.60*b)?1:0}')
printf '  %-44s %s (%s)\n' "L0 >= 60% of hello-world" "$(verdict "$ok")" \
	"$(awk -v a="$L0_RPS" -v b="$H_RPS" 'BEGIN{printf (b>0)?"%.0f%%":"n/a", 100*a/(b>0?b:1)}')"
ok=$(awk -v a="$L1_RPS" 'BEGIN{print (a>=25000)?1:0}')
printf '  %-44s %s (%.0f rps)\n' "L1 >= 25000 rps" "$(verdict "$ok")" "$L1_RPS"
ok=$(awk -v a="$L1_P99" 'BEGIN{print (a!="nan" && a+0<10)?1:0}')
printf '  %-44s %s (%s ms)\n' "L1 p99 < 10 ms" "$(verdict "$ok")" "$L1_P99"
ok=$(awk -v a="$L1_RPS" -v b="$L0_RPS" 'BEGIN{print (b>0 && a>=0.25*b)?1:0}')
printf '  %-44s %s (%s)\n' "L1 >= 25% of L0" "$(verdict "$ok")" \
	"$(awk -v a="$L1_RPS" -v b="$L0_RPS" 'BEGIN{printf (b>0)?"%.0f%%":"n/a", 100*a/(b>0?b:1)}')"
[ "$L1_BAD" -gt 0 ] 2>/dev/null && echo "  note: L1 had $L1_BAD non-2xx responses or socket errors; its rps is not valid"
ok=$(awk -v a="$RSS_KIB" -v o="$RSS_OK" -v n="$IDLE" 'BEGIN{print (a!="" && a>0 && a<65536 && o>=n)?1:0}')
printf '  %-44s %s (%s KiB)\n' "gateway RSS < 64 MiB, $IDLE idle conns" "$(verdict "$ok")" "${RSS_KIB:-?}"

# ---- auth report -----------------------------------------------------------
echo
if [ -z "$AUTH_OK" ]; then
	echo "auth: not measured"
	echo; cat "$DATA_REPORT"
	exit 0
fi
printf '%-34s %10s %9s %9s %9s %8s %7s\n' "auth (conns)" rps p50_ms p99_ms vs_L1 non2xx errors
arow() {
	label=$1; set -- $2
	awk -v l="$label" -v r="$1" -v p50="$2" -v p99="$3" -v n="$4" -v e="$5" \
	    -v z="$L1_RPS" 'BEGIN {
		vz = (z > 0) ? sprintf("%.0f%%", 100 * r / z) : "-";
		printf "%-34s %10.0f %9s %9s %9s %8s %7s\n", l, r, p50, p99, vz, n, e }'
}
arow "A1 GET /auth/me, JWT ($CONNS)" "$R_A1"
arow "A2 GET /auth/me, API key ($CONNS)" "$R_A2"
arow "A3 POST /auth/refresh ($CONNS)" "$R_A3"
arow "A4 POST /auth/login ($LCONNS)" "$R_A4"
arow "A5 login flood ($LCONNS)" "$R_A5flood"
arow "A5 GET /auth/me in flood ($PCONNS)" "$R_A5"
echo
echo "auth targets:"
bad() { set -- $1; echo $(( ${4:-0} + ${5:-0} )); }
set -- $R_A1; A1_RPS=$1
ok=$(awk -v a="$A1_RPS" -v b="$L1_RPS" 'BEGIN{print (b>0 && a>=0.70*b)?1:0}')
printf '  %-44s %s (%s)\n' "A1 /auth/me JWT >= 70% of L1" "$(verdict "$ok")" \
	"$(awk -v a="$A1_RPS" -v b="$L1_RPS" 'BEGIN{printf (b>0)?"%.0f%%":"n/a", 100*a/(b>0?b:1)}')"
set -- $R_A2; A2_RPS=$1
ok=$(awk -v a="$A2_RPS" -v b="$L1_RPS" 'BEGIN{print (b>0 && a>=0.60*b)?1:0}')
printf '  %-44s %s (%s)\n' "A2 /auth/me API key >= 60% of L1" "$(verdict "$ok")" \
	"$(awk -v a="$A2_RPS" -v b="$L1_RPS" 'BEGIN{printf (b>0)?"%.0f%%":"n/a", 100*a/(b>0?b:1)}')"
set -- $R_A3; A3_RPS=$1
ok=$(awk -v a="$A3_RPS" 'BEGIN{print (a>=5000)?1:0}')
printf '  %-44s %s (%.0f rps)\n' "A3 /auth/refresh >= 5000 rps at $CONNS conns" "$(verdict "$ok")" "$A3_RPS"
set -- $R_A4
printf '  %-44s %s (%.0f logins/s, p99 %s ms)\n' "A4 login throughput" "info" "$1" "$3"
set -- $R_A5; A5_P99=$3
ok=$(awk -v a="$A5_P99" 'BEGIN{print (a!="nan" && a+0<20)?1:0}')
printf '  %-44s %s (%s ms)\n' "A5 /auth/me p99 < 20 ms during login flood" "$(verdict "$ok")" "$A5_P99"
set -- $R_A5flood
printf '  %-44s %s (%.0f logins/s)\n' "A5 login flood throughput" "info" "$1"
for n in A1 A2 A3 A4 A5 A5flood; do
	eval "b=\$(bad \"\$R_$n\")"
	[ "$b" -gt 0 ] 2>/dev/null && echo "  note: $n had $b non-2xx responses or socket errors; its numbers are not valid"
done
echo
cat "$DATA_REPORT"
exit 0
