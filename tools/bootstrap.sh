#!/usr/bin/env bash
# Installs what nvmfd needs on Debian 12 and builds it into build/.
#
#   tools/bootstrap.sh           build dependencies, then build
#   tools/bootstrap.sh --tests   also what the test suite needs (tshark,
#                                QEMU and friends for the interop stage,
#                                clang 14 for the fuzzers)
#
# apt-get runs only for packages that are missing, so a second run costs
# nothing but the (incremental) build.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir=${NVMFD_BUILD_DIR:-$root/build}
with_tests=0
[[ ${1:-} == --tests ]] && with_tests=1

packages=(
    build-essential cmake pkg-config
    libboost-dev libboost-program-options-dev libboost-filesystem-dev
    libfmt-dev nlohmann-json3-dev libssl-dev libisal-dev liburing-dev
    libsystemd-dev libsdbus-c++-dev libsdbus-c++-bin dbus
    liblua5.4-dev doctest-dev python3
    libibverbs-dev librdmacm-dev
)
if ((with_tests)); then
    packages+=(tshark systemd dmsetup util-linux clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) == 0 ]] || sudo=sudo
    echo "bootstrap: installing ${missing[*]}"
    $sudo apt-get update -qq
    # tshark asks whether non-root users may capture; the default (no) is fine.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ((with_tests)); then
    sudo=""
    [[ $(id -u) == 0 ]] || sudo=sudo
    $sudo bash "$root/tests/interop/deps.sh"
fi

cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${NVMFD_CMAKE_ARGS:-} >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
echo "bootstrap: built $build_dir/nvmfd and $build_dir/nvmfctl"

# nvmfctl talks to nvmfd over the system bus, which lets nobody own
# org.nvmfd without a policy file: install ours (what `make install` does)
# and tell a running bus to reload.
policy_dir=/usr/share/dbus-1/system.d
if [[ $(id -u) == 0 && -d $policy_dir ]] && ! cmp -s "$build_dir/systemd/org.nvmfd.conf" "$policy_dir/org.nvmfd.conf"; then
    install -m 0644 "$build_dir/systemd/org.nvmfd.conf" "$policy_dir/org.nvmfd.conf"
    dbus-send --system --type=method_call --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig \
        >/dev/null 2>&1 || true
    echo "bootstrap: installed the D-Bus policy $policy_dir/org.nvmfd.conf"
fi
