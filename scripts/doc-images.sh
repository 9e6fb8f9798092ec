#!/bin/bash
# doc-images.sh - draws the report pictures of docs/ from `rollmat demo`, so
# the pictures show what the demo records today (the athlete's subject id
# and body mass included).
# usage: scripts/doc-images.sh ROLLMAT OUTDIR [demo options, e.g. --no-usb --time-scale 0.5]
# Writes into OUTDIR: report-example-overview.png (page 2) and
# report-example-set.png (page 4, the first set) of the guide routine at
# 72 dpi (596 x 842), report-example-summary-guide.png and
# report-example-summary-rushed.png (the phone summary at 108 dpi, 540 x 960);
# report-example-maps.png, the maps of the guide's first set cut from the
# PDF with pdftoppm at 144 dpi (1088 x 470), and report-example-ball.png,
# the page of the ball scenario's first massage-ball set (page 5) at 72 dpi.
set -eu
rollmat=${1:?usage: doc-images.sh ROLLMAT OUTDIR [demo options]}
out=${2:?usage: doc-images.sh ROLLMAT OUTDIR [demo options]}
shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/rm_doc_images.XXXXXX")
trap 'rm -rf "$work"' EXIT
for s in guide rushed; do
    "$rollmat" demo -q -s "$s" -o "$work/$s" "$@" > /dev/null
    "$rollmat" report "$work/$s/results.h5" --summary --dpi 108 -q \
        -o "$out/report-example-summary-$s.png"
done
"$rollmat" report "$work/guide/results.h5" --page 2 --dpi 72 -q -o "$out/report-example-overview.png"
"$rollmat" report "$work/guide/results.h5" --page 4 --dpi 72 -q -o "$out/report-example-set.png"
# the maps of the calves (page 4): the top of the page, 36..580 x 20..255 pt
"$rollmat" report "$work/guide/results.h5" -q -o "$work/guide.pdf"
pdftoppm -png -r 144 -f 4 -l 4 -x 52 -y 40 -W 1088 -H 470 -singlefile "$work/guide.pdf" \
    "$work/maps"
cp "$work/maps.png" "$out/report-example-maps.png"
"$rollmat" demo -q -s ball -o "$work/ball" "$@" > /dev/null
"$rollmat" report "$work/ball/results.h5" --page 5 --dpi 72 -q -o "$out/report-example-ball.png"
