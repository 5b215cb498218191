#!/bin/sh
# Runs each unit test binary (cmocka, ASan+UBSan); prints one line per
# binary and a summary "N passed, N failed" (cmocka reports on stderr).
passed=0; failed=0
for t in "$@"; do
	if out=$("$t" 2>&1); then
		n=$(printf '%s\n' "$out" | sed -n 's/.*PASSED.*\] \([0-9]*\) test.*/\1/p' | tail -1)
		passed=$((passed + ${n:-1})); echo "unit: ok   $t (${n:-1})"
	else
		printf '%s\n' "$out" | tail -40
		n=$(printf '%s\n' "$out" | sed -n 's/.*FAILED.*\] \([0-9]*\) test.*/\1/p' | tail -1)
		failed=$((failed + ${n:-1})); echo "unit: FAIL $t"
	fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
