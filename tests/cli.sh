#!/usr/bin/env bash
# The front end's contract: help, version, exit statuses, one-line errors.
set -u
fail=0
check() { # expected-status description command...
  local want=$1 what=$2; shift 2
  "$@" >/tmp/rm_cli_out.$$ 2>/tmp/rm_cli_err.$$; local got=$?
  if [ "$got" != "$want" ]; then
    echo "FAIL: $what: exit $got, expected $want"; cat /tmp/rm_cli_err.$$; fail=1
  else echo "ok: $what"; fi
}
: "${ROLLMAT:?ROLLMAT must name the built rollmat}"
check 0 "help" "$ROLLMAT" help
grep -q "simulate" /tmp/rm_cli_out.$$ || { echo "FAIL: help lists no commands"; fail=1; }
check 0 "--version" "$ROLLMAT" --version
grep -qE '^rollmat [0-9]+\.[0-9]+' /tmp/rm_cli_out.$$ || { echo "FAIL: version line"; fail=1; }
check 2 "no command" "$ROLLMAT"
check 2 "unknown command" "$ROLLMAT" frobnicate
grep -q "unknown command 'frobnicate'" /tmp/rm_cli_err.$$ || { echo "FAIL: unknown command not named"; fail=1; }
[ "$(wc -l < /tmp/rm_cli_err.$$)" = 1 ] || { echo "FAIL: error is not one line"; fail=1; }
for c in simulate record devices vmat info export import analyze report batch demo; do
  check 0 "$c --help" "$ROLLMAT" "$c" --help
  check 0 "help $c" "$ROLLMAT" help "$c"
  check 2 "$c with a bad option" "$ROLLMAT" "$c" --no-such-option
  grep -q "no-such-option" /tmp/rm_cli_err.$$ || { echo "FAIL: $c: bad option not named"; fail=1; }
done
# A missing input is named, with status 1, and nothing misbehaves on the way
# (the sanitizers print "runtime error" on undefined behaviour).
d=$(mktemp -d)
for args in "info $d/none.h5" "analyze $d/none.h5" "export $d/none.h5 --events" \
            "import $d/none.csv -o $d/o.h5" "report $d/none.h5" "batch $d/none -o $d/b.csv"; do
  # shellcheck disable=SC2086
  check 1 "$args" "$ROLLMAT" $args
  grep -q "none" /tmp/rm_cli_err.$$ || { echo "FAIL: $args: missing file not named"; fail=1; }
  grep -q "runtime error\|Sanitizer" /tmp/rm_cli_err.$$ && { echo "FAIL: $args: sanitizer report"; cat /tmp/rm_cli_err.$$; fail=1; }
done
rm -rf "$d"
rm -f /tmp/rm_cli_out.$$ /tmp/rm_cli_err.$$
[ $fail = 0 ] && echo "cli: all checks passed"
exit $fail
