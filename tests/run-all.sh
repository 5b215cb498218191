#!/bin/sh
# make test: unit tests, then the integration suite; ends with one line
# "N passed, N failed" over both.
unit_out=$(sh tests/run-unit.sh $1 2>&1); unit_rc=$?
printf '%s\n' "$unit_out"
int_out=$(python3 tests/integration/run.py 2>&1); int_rc=$?
printf '%s\n' "$int_out"
up=$(printf '%s\n' "$unit_out" | sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed/\1/p')
uf=$(printf '%s\n' "$unit_out" | sed -n 's/^unit: \([0-9]*\) passed, \([0-9]*\) failed/\2/p')
ip=$(printf '%s\n' "$int_out" | sed -n 's/^integration: \([0-9]*\) passed, \([0-9]*\) failed/\1/p')
if_=$(printf '%s\n' "$int_out" | sed -n 's/^integration: \([0-9]*\) passed, \([0-9]*\) failed/\2/p')
echo "$(( ${up:-0} + ${ip:-0} )) passed, $(( ${uf:-0} + ${if_:-0} )) failed"
[ $unit_rc -eq 0 ] && [ $int_rc -eq 0 ]
