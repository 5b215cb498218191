#!/bin/sh
# data.sh: the data service benchmarks of `make bench` (issue 4), run by
# tests/bench/run.sh after the auth section against the same launcher:
#   sh tests/bench/data.sh PORT ADMIN_SECRET OUT_DIR DURATION CONNS THREADS L1_RPS
# A user (JWT) owns a collection (read public, create authenticated, update
# owner) seeded with BENCH_DATA_RECORDS small records {cat, score, views,
# title} by POST /:c/bulk (500 each, BENCH_DATA_SEED_CONNS connections), with
# indexes on cat and score created before the bulk inserts. Then, with the
# user's JWT:
#   D1 GET /:c/:id                        >= 80% of L1      (CONNS)
#   D2 POST /:c, small record             >= 50% of L1      (CONNS)
#   D3 PATCH /:c/:id {"views":k}          >= 40% of L1      (CONNS, ids owned)
#   seeding by bulk (500/request)         >= 100000 records/s
#   D4 list 20, filter cat:eq:42 (1%), sort -score (both indexed)
#                                         p99 < 20 ms       (DCONNS)
#   D5/D6 list 20 in the default order (_id), total=false: page 1 and, by
#      `after`, page BENCH_DATA_PAGES (the cursor is found once by walking
#      the chain)                         p50 of D6 within 20% (or 0.2 ms) of D5
#   D6s the same with sort=-score: page 1 and page BENCH_DATA_PAGES by
#      `after` (cursor from page=PAGES-1), 21 sequential requests each (sub-ms
#      times: 5 were too few to compare)
#                                         p50 within 20% (or 0.2 ms) of page 1
#   D7 search for a word in 0.1% of the records, limit 20    p50 < 20 ms
#   D8 GET /:c/count, filter cat:eq:42   p50 < 10 ms
# Progress goes to stderr; the table and "data targets:" to stdout. Not a
# test: it always exits 0.
#
# Environment: BENCH_DATA_RECORDS (1000000), BENCH_DATA_SEED_CONNS (4),
# BENCH_DATA_SEED_SECONDS (90: seeding stops there and says how far it got),
# BENCH_DATA_CONNS (16: connections of D4..D8), BENCH_DATA_PAGES (10000).
cd "$(dirname "$0")/../.." || exit 0
ROOT=$(pwd)
LPORT=$1
SECRET=$2
OUT=${3:-$ROOT/build/bench}
DUR=${4:-10s}
CONNS=${5:-64}
THREADS=${6:-2}
L1_RPS=${7:-0}
NREC=${BENCH_DATA_RECORDS:-1000000}
SCONNS=${BENCH_DATA_SEED_CONNS:-4}
SSEC=${BENCH_DATA_SEED_SECONDS:-90}
DCONNS=${BENCH_DATA_CONNS:-16}
PAGES=${BENCH_DATA_PAGES:-10000}
U="python3 $ROOT/tests/bench/util.py"
C=bench_data
B=$ROOT/tests/bench
mkdir -p "$OUT"

say() { printf 'bench: %s\n' "$*" >&2; }

if [ -z "$LPORT" ]; then
	echo "data: not measured (no launcher)"
	exit 0
fi
case $L1_RPS in ''|*[!0-9.]*) L1_RPS=0 ;; esac

for n in D1 D2 D3 D4 D5 D6 D7 D8; do eval "R_$n='0 nan nan 0 0'"; done

# run NAME CONNS PATH: GET with the user's JWT, 1 s warm-up
run() {
	name=$1; c=$2; path=$3
	f=$OUT/wrk-$name.txt
	wrk -t"$THREADS" -c"$c" -d1s -H "Authorization: Bearer $JWT" \
		"http://127.0.0.1:$LPORT$path" >/dev/null 2>&1
	wrk -t"$THREADS" -c"$c" -d"$DUR" --latency -H "Authorization: Bearer $JWT" \
		"http://127.0.0.1:$LPORT$path" >"$f" 2>&1
	eval "R_$name='$($U wrk-parse "$f")'"
}
# run_lua NAME CONNS SCRIPT [args]: 1 s warm-up
run_lua() {
	name=$1; c=$2; script=$3; shift 3
	f=$OUT/wrk-$name.txt
	wrk -t"$THREADS" -c"$c" -d1s -s "$script" "http://127.0.0.1:$LPORT" -- "$@" >/dev/null 2>&1
	wrk -t"$THREADS" -c"$c" -d"$DUR" --latency --timeout 10s -s "$script" \
		"http://127.0.0.1:$LPORT" -- "$@" >"$f" 2>&1
	eval "R_$name='$($U wrk-parse "$f")'"
}

$U patch-limits "$LPORT" "$SECRET" >/dev/null || say "warning: PATCH rate limits failed"
say "data: seeding $NREC records by POST /$C/bulk (500 each, $SCONNS connections, at most ${SSEC}s)"
SEEDED=0; SEED_S=0; SEED_RATE=0
if st=$($U data-seed "$LPORT" "$SECRET" "$OUT" "$C" "$NREC" "$SCONNS" "$SSEC"); then
	set -- $st; SEEDED=$1; SEED_S=$2; SEED_RATE=$3
	JWT=$(cat "$OUT/data-jwt")
else
	say "data benchmarks skipped: $st"
	echo
	echo "data: not measured"
	exit 0
fi
say "data: seeded $SEEDED records in ${SEED_S}s ($SEED_RATE records/s)"
[ "$SEEDED" -lt "$NREC" ] && say "data: seeding hit the ${SSEC}s limit: $SEEDED of $NREC records"

LIST="/api/v1/$C?filter=cat:eq:42&sort=-score&limit=20"
PAGE="/api/v1/$C?limit=20&total=false"
SPAGE="/api/v1/$C?sort=-score&limit=20&total=false"
SEARCH="/api/v1/$C?search=zephyrine&limit=20"
COUNT="/api/v1/$C/count?filter=cat:eq:42"
for p in "$LIST" "$SEARCH" "$COUNT"; do
	say "data: GET $p -> $($U data-probe "$LPORT" "$JWT" "$p") (status total items)"
done

ID1=$(head -1 "$OUT/data-ids.txt")
st=$($U status "$LPORT" "/api/v1/$C/$ID1" "$JWT")
[ "$st" = 200 ] || say "warning: GET /api/v1/$C/$ID1 -> $st"
run_lua D1 "$CONNS" "$B/data_get.lua" "$OUT/data-ids.txt" "$C" "$JWT"
run_lua D2 "$CONNS" "$B/data_post.lua" "$C" "$JWT"
run_lua D3 "$CONNS" "$B/data_patch.lua" "$OUT/data-ids.txt" "$C" "$JWT"

say "data: walking the cursor chain of GET $PAGE to page $PAGES"
AFTER=; APAGE=0
if st=$($U data-walk "$LPORT" "$JWT" "$PAGE" "$PAGES"); then
	set -- $st; AFTER=$1; APAGE=$2
	say "data: page $APAGE reached in $3 s"
	[ "$APAGE" -lt "$PAGES" ] && say "data: the chain ends at page $APAGE (fewer records than $PAGES pages of 20)"
else
	say "data: cursor walk failed: $st"
fi

# sorted cursor paging: the cursor of page PAGES from page mode (one
# request, equivalent to the chain), then single requests timed
S1="nan nan"; SN="nan nan"
if st=$($U data-cursor "$LPORT" "$JWT" "$SPAGE" $((PAGES - 1))) && [ "$st" != "-" ]; then
	set -- $($U data-time "$LPORT" "$JWT" "$SPAGE" 21); S1="$2 $3"
	set -- $($U data-time "$LPORT" "$JWT" "$SPAGE&after=$st" 21); SN="$2 $3"
	[ "$1" = 200 ] || say "warning: sorted page $PAGES -> $1"
else
	say "data: no cursor for sorted page $PAGES: $st"
fi

run D4 "$DCONNS" "$LIST"
run D5 "$DCONNS" "$PAGE"
[ -n "$AFTER" ] && [ "$AFTER" != "-" ] && run D6 "$DCONNS" "$PAGE&after=$AFTER"
run D7 "$DCONNS" "$SEARCH"
run D8 "$DCONNS" "$COUNT"

# ---- report --------------------------------------------------------------
echo
printf '%-34s %10s %9s %9s %9s %8s %7s\n' "data (conns)" rps p50_ms p99_ms vs_L1 non2xx errors
drow() {
	label=$1; set -- $2
	awk -v l="$label" -v r="$1" -v p50="$2" -v p99="$3" -v n="$4" -v e="$5" \
	    -v z="$L1_RPS" 'BEGIN {
		vz = (z > 0) ? sprintf("%.0f%%", 100 * r / z) : "-";
		printf "%-34s %10.0f %9s %9s %9s %8s %7s\n", l, r, p50, p99, vz, n, e }'
}
drow "D1 GET /:c/:id ($CONNS)" "$R_D1"
drow "D2 POST /:c ($CONNS)" "$R_D2"
drow "D3 PATCH /:c/:id ($CONNS)" "$R_D3"
drow "D4 list 1% filter+sort ($DCONNS)" "$R_D4"
drow "D5 list by _id, page 1 ($DCONNS)" "$R_D5"
drow "D6 list by _id, page $APAGE ($DCONNS)" "$R_D6"
drow "D7 search 0.1% term ($DCONNS)" "$R_D7"
drow "D8 count 1% filter ($DCONNS)" "$R_D8"
set -- $S1 $SN
printf 'D6s sort=-score, 1 connection, 21 requests: page 1 p50 %s ms (max %s), page %s by after p50 %s ms (max %s)\n' \
	"$1" "$2" "$PAGES" "$3" "$4"
echo
printf 'data seeding: %s records by bulk (500/request, %s connections) in %s s: %s records/s\n' \
	"$SEEDED" "$SCONNS" "$SEED_S" "$SEED_RATE"
[ "$SEEDED" -lt "$NREC" ] && echo "  note: seeding stopped at its ${SSEC}s limit: $SEEDED of $NREC records; D4..D8 ran on $SEEDED"

echo
echo "data targets:"
verdict() { if [ "$1" = 1 ]; then echo PASS; else echo MISS; fi; }
pct() { awk -v a="$1" -v b="$L1_RPS" 'BEGIN{printf (b>0)?"%.0f%%":"n/a", 100*a/(b>0?b:1)}'; }
vsl1() { # NAME LABEL FRACTION
	eval "set -- \$R_$1 \"\$2\" \"\$3\""
	ok=$(awk -v a="$1" -v b="$L1_RPS" -v f="$7" 'BEGIN{print (b>0 && a>=f*b)?1:0}')
	printf '  %-44s %s (%s)\n' "$6" "$(verdict "$ok")" "$(pct "$1")"
}
vsl1 D1 "D1 GET /:c/:id >= 80% of L1" 0.80
vsl1 D2 "D2 POST /:c >= 50% of L1" 0.50
vsl1 D3 "D3 PATCH /:c/:id >= 40% of L1" 0.40
ok=$(awk -v a="$SEED_RATE" 'BEGIN{print (a>=100000)?1:0}')
printf '  %-44s %s (%.0f records/s)\n' "bulk 500/request >= 100000 records/s" "$(verdict "$ok")" "$SEED_RATE"
set -- $R_D4
ok=$(awk -v a="$3" 'BEGIN{print (a!="nan" && a+0<20)?1:0}')
printf '  %-44s %s (%s ms)\n' "D4 list 1% filter+sort p99 < 20 ms" "$(verdict "$ok")" "$3"
set -- $R_D5; P1=$2
set -- $R_D6; PN=$2
ok=$(awk -v a="$PN" -v b="$P1" -v n="$APAGE" -v w="$PAGES" \
	'BEGIN{print (a!="nan" && b!="nan" && n>=w && (a<=1.2*b || a<=b+0.2))?1:0}')
printf '  %-44s %s (%s vs %s ms)\n' "D6 page $PAGES p50 ~ page 1 p50 (D5)" "$(verdict "$ok")" "$PN" "$P1"
set -- $S1 $SN
ok=$(awk -v a="$3" -v b="$1" 'BEGIN{print (a!="nan" && b!="nan" && (a<=1.2*b || a<=b+0.2))?1:0}')
printf '  %-44s %s (%s vs %s ms, 1 conn)\n' "D6s sort=-score: page $PAGES p50 ~ page 1" "$(verdict "$ok")" "$3" "$1"
set -- $R_D7
ok=$(awk -v a="$2" 'BEGIN{print (a!="nan" && a+0<20)?1:0}')
printf '  %-44s %s (%s ms)\n' "D7 search p50 < 20 ms" "$(verdict "$ok")" "$2"
set -- $R_D8
ok=$(awk -v a="$2" 'BEGIN{print (a!="nan" && a+0<10)?1:0}')
printf '  %-44s %s (%s ms)\n' "D8 count 1% filter p50 < 10 ms" "$(verdict "$ok")" "$2"
[ "$SEEDED" -lt 1000000 ] && echo "  note: the collection has $SEEDED records, not 1,000,000"
for n in D1 D2 D3 D4 D5 D6 D7 D8; do
	eval "set -- \$R_$n"
	b=$(( ${4:-0} + ${5:-0} ))
	[ "$b" -gt 0 ] 2>/dev/null && echo "  note: $n had $b non-2xx responses or socket errors; its numbers are not valid"
done
exit 0
