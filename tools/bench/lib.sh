# shellcheck shell=bash disable=SC2034  # (sets variables for the script that sources it)
# What the interleaved-rounds benchmarks (tls-matrix.sh, hostile-hosts.sh)
# share; sourced after `set -euo pipefail`, never run on its own:
#
#   bench_options "$@"         [--rounds N] [--time SEC] [--build DIR] into
#                              $rounds, $time and $build (5, 5, <repo>/build);
#                              anything else: the usage line, exit 2
#   bench_require HINT FILE..  each FILE executable, or "build first (HINT)", exit 2
#   bench_two_cpus WHAT        two CPUs, one for nvmfd and one for WHAT, or exit 2
#   free_port                  prints a free TCP port on 127.0.0.1
#   wait_for_port PORT         until 127.0.0.1:PORT accepts (5 s at most)

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

bench_options() {
    build=$bench_root/build rounds=5 time=5
    while (($#)); do
        case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --time) time=$2; shift 2 ;;
        --build) build=$(realpath "$2"); shift 2 ;;
        *) echo "usage: $0 [--rounds N] [--time SEC] [--build DIR]" >&2; exit 2 ;;
        esac
    done
}

bench_require() {
    local hint=$1 f; shift
    for f; do [[ -x $f ]] || { echo "build first ($hint)" >&2; exit 2; }; done
}

bench_two_cpus() {
    (($(nproc) >= 2)) || { echo "needs two CPUs: one for nvmfd, one for $1" >&2; exit 2; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for_port() {
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done
}
