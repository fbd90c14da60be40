#!/usr/bin/env bash
# Run every benchmark once, one after another, and keep each table in bench/out/: the
# README's Performance section shows the tables of one such run. From the repository root,
# after `pip install -e ".[test,bench]"`:
#
#     bench/run_all.sh            # the --quick sizes, plus upload at N=20,000 (about 11 minutes)
#     bench/run_all.sh --full     # everything at full size (upload N=20,000 with the documented
#                                 # client, COCO at train2017 scale, memory at 20,000/80,000)
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
out=bench/out
mkdir -p "$out"
size=(--quick)
if [ "${1:-}" = "--full" ]; then size=(); fi
run() {
    local name=$1; shift
    echo "== $name: $*"
    local started=$SECONDS
    "$py" "$@" 2>&1 | tee "$out/$name.txt"
    echo "($name took $((SECONDS - started)) s)"
}
run startup bench/startup.py --repeat 15 --importtime
run upload_throughput bench/upload_throughput.py "${size[@]}"
# run / raw ceiling at N=20,000 (without the documented client, which at one image per
# request and 30 ms would take most of an hour by itself).
run upload_20k bench/upload_throughput.py --sections small --images 20000 --skip-documented --repeat 2
run memory bench/memory.py "${size[@]}"
run coco_read bench/coco_read.py "${size[@]}" --repeat 3
run preview bench/preview.py  # 100,000 images: the size the preview's target names
run bucket_plan bench/bucket_plan.py --quick --repeat 1
