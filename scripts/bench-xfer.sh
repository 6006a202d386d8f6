#!/usr/bin/env bash
# File-transfer benchmark: rpack vs Packer 1.6.6 vs the OpenSSH `scp` binary, in one run, against
# one dedicated loopback sshd (started here, stopped on exit).
#
#   scripts/bench-xfer.sh [N]          N = runs per cell (default 3), tools interleaved per run
#
# Cases (as ../shared/bench/xfer.sh): "tiny" (1 byte: start-up + handshake), "big" (one 256 MiB
# random file), "small" (a folder of 5,000 x 4 KiB files), each uploaded with the `file`
# provisioner to ~ec2-user/xfer-bench/ and verified there (sha256 / file count + bytes).
# Packer and rpack run `build` on ../shared/bench/templates/xfer-null.json (null builder). When
# `rpack build` cannot run that template yet, rpack is measured with `examples/xfer.rs` (the same
# communicator + file provisioner, without the build engine); the summary says which was used.
#
# Needs root (creates the login user if missing, runs sshd), packer (`apt-get install -y packer`),
# openssh-server, python3, GNU time. Environment overrides:
#   RPACK_BIN (target/release/rpack)  XFER_EXAMPLE (target/release/examples/xfer)  PACKER_BIN (packer)
#   BENCH_DIR (../shared/bench)  XFER_WORK (target/bench-xfer)  XFER_BIG_MIB (256)
#   XFER_SMALL_COUNT (5000)  XFER_SMALL_KIB (4)  XFER_METHODS ("scp")  XFER_TOOLS ("packer rpack scp")
#   XFER_DEST (/home/ec2-user/xfer-bench)  XFER_CASES ("tiny big small")  XFER_FRESH (trash|rm)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${1:-3}
BENCH_DIR=${BENCH_DIR:-$REPO/../shared/bench}
TEMPLATE=$BENCH_DIR/templates/xfer-null.json
WORK=${XFER_WORK:-$REPO/target/bench-xfer}
RPACK_BIN=${RPACK_BIN:-$REPO/target/release/rpack}
XFER_EXAMPLE=${XFER_EXAMPLE:-$REPO/target/release/examples/xfer}
PACKER_BIN=${PACKER_BIN:-packer}
BIG_MIB=${XFER_BIG_MIB:-256}
SMALL_COUNT=${XFER_SMALL_COUNT:-5000}
SMALL_KIB=${XFER_SMALL_KIB:-4}
METHODS=${XFER_METHODS:-scp}
TOOLS=${XFER_TOOLS:-packer rpack scp}
SSH_USER=ec2-user
# Where the uploads land. The default is the login user's home, as in ../shared/bench/xfer.sh;
# XFER_DEST=/dev/shm/xfer-bench measures the transfer without the disk.
DEST_DIR=${XFER_DEST:-/home/$SSH_USER/xfer-bench}
CASES=${XFER_CASES:-tiny big small}
# How each run gets an empty destination. ../shared/bench/xfer.sh deletes the last run's tree
# right before the next run. On an ext4 file system without a journal (this machine's root), the
# kernel then skips every inode freed in an earlier second and less than 60 s ago (360 s while
# its inode table block is dirty) whenever it allocates a new one (fs/ext4/ialloc.c:
# recently_deleted): creating 5,000 files after deleting 5,000 costs up to 3 s of kernel time,
# for every tool alike, unless the run creates its files within the second of the deletion. "trash"
# (default) moves the old tree aside and deletes it on exit, so each run starts as on a freshly
# launched instance; "rm" reproduces xfer.sh.
FRESH=${XFER_FRESH:-trash}
TRASH=$(dirname "$DEST_DIR")/.xfer-bench-trash

die() { echo "bench-xfer: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (runs sshd, writes into ~$SSH_USER)"
[ -f "$TEMPLATE" ] || die "template not found: $TEMPLATE (set BENCH_DIR)"
command -v "$PACKER_BIN" >/dev/null || die "packer not found (apt-get install -y packer)"
[ -x /usr/sbin/sshd ] || die "sshd not found (apt-get install -y openssh-server)"
export CHECKPOINT_DISABLE=1

mkdir -p "$WORK"; chmod 755 "$WORK"
id "$SSH_USER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$SSH_USER"
usermod -p '*' "$SSH_USER"

# ---- sshd on a free loopback port ---------------------------------------------------------
for t in ed25519 rsa; do [ -f "$WORK/host_$t" ] || ssh-keygen -q -t "$t" -N '' -f "$WORK/host_$t"; done
# PEM RSA client key: readable by Packer 1.6.6's Go x/crypto as well as by libssh2.
[ -f "$WORK/client_key" ] || ssh-keygen -q -t rsa -b 3072 -m PEM -N '' -C rpack-bench -f "$WORK/client_key"
cp "$WORK/client_key.pub" "$WORK/authorized_keys"; chmod 644 "$WORK/authorized_keys"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p /run/sshd
cat > "$WORK/sshd_config" <<EOF
ListenAddress 127.0.0.1:$PORT
HostKey $WORK/host_ed25519
HostKey $WORK/host_rsa
PidFile none
AllowUsers $SSH_USER
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AuthorizedKeysFile $WORK/authorized_keys
# Packer 1.6.6 may still sign with ssh-rsa (SHA-1), which OpenSSH >= 8.8 refuses by default.
PubkeyAcceptedAlgorithms +ssh-rsa
Subsystem sftp /usr/lib/openssh/sftp-server
MaxStartups 50:30:100
UseDNS no
EOF
/usr/sbin/sshd -D -e -f "$WORK/sshd_config" 2>"$WORK/sshd.log" &
SSHD_PID=$!
trap 'kill $SSHD_PID 2>/dev/null; rm -rf "$DEST_DIR" "$TRASH"' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
SSH_OPTS=(-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -i "$WORK/client_key")
ssh "${SSH_OPTS[@]}" -p "$PORT" "$SSH_USER@127.0.0.1" true || die "ssh smoke test failed (see $WORK/sshd.log)"

# ---- fixtures (made once) ------------------------------------------------------------------
FIX=$WORK/fixtures; mkdir -p "$FIX"; chmod 755 "$FIX"
[ -f "$FIX/tiny.bin" ] || printf x > "$FIX/tiny.bin"
if [ ! -f "$FIX/big.bin" ] || [ "$(stat -c %s "$FIX/big.bin")" != $((BIG_MIB * 1048576)) ]; then
  echo "making $FIX/big.bin ($BIG_MIB MiB random)"; head -c $((BIG_MIB * 1048576)) /dev/urandom > "$FIX/big.bin"
  sha256sum "$FIX/big.bin" | cut -d' ' -f1 > "$FIX/big.sha256"
fi
if [ ! -d "$FIX/small" ] || [ "$(find "$FIX/small" -type f | wc -l)" != "$SMALL_COUNT" ]; then
  echo "making $FIX/small ($SMALL_COUNT x $SMALL_KIB KiB random)"; rm -rf "$FIX/small"
  python3 -c "
import os,sys
d,n,k=sys.argv[1],int(sys.argv[2]),int(sys.argv[3]); os.makedirs(d)
for i in range(n):
    open(os.path.join(d,'f%05d.bin'%i),'wb').write(os.urandom(k*1024))" "$FIX/small" "$SMALL_COUNT" "$SMALL_KIB"
fi
chmod -R a+rX "$FIX"
src_of() { case $1 in tiny) echo "$FIX/tiny.bin";; big) echo "$FIX/big.bin";; small) echo "$FIX/small";; esac; }

check() {
  case $1 in
    tiny) [ "$(cat "$DEST_DIR/tiny.bin" 2>/dev/null)" = x ] && echo ok || echo "tiny.bin missing";;
    big) [ "$(sha256sum < "$DEST_DIR/big.bin" 2>/dev/null | cut -d' ' -f1)" = "$(cat "$FIX/big.sha256")" ] && echo ok || echo "big.bin sha256 mismatch";;
    small) local n b; n=$(find "$DEST_DIR/small" -type f 2>/dev/null | wc -l); b=$(du -sb --apparent-size "$DEST_DIR/small" 2>/dev/null | cut -f1)
           [ "$n" = "$SMALL_COUNT" ] && echo ok || echo "small: $n files (want $SMALL_COUNT), $b bytes";;
  esac
}

# ---- how rpack is run ----------------------------------------------------------------------
build_cmd() { # tool case method -> command line on stdout (as an array via eval-safe printf)
  local tool=$1 src; src=$(src_of "$2")
  case $tool in
    packer|rpack-build)
      local bin=$PACKER_BIN; [ "$tool" = rpack-build ] && bin=$RPACK_BIN
      printf '%q ' "$bin" build -var "source=$src" -var "method=$3" -var "key_file=$WORK/client_key" \
        -var "destination=$DEST_DIR/" -var ssh_host=127.0.0.1 -var "ssh_port=$PORT" -var "ssh_username=$SSH_USER" "$TEMPLATE";;
    rpack-example)
      printf '%q ' "$XFER_EXAMPLE" 127.0.0.1 "$PORT" "$SSH_USER" "$WORK/client_key" "$3" "$src" "$DEST_DIR/";;
    scp)
      local r=; [ -d "$src" ] && r=-r
      if [ "$3" = sftp ]; then
        printf 'put %s %s %s/\n' "$r" "$src" "$DEST_DIR" > "$WORK/sftp-batch-$2"
        printf '%q ' sftp -q "${SSH_OPTS[@]}" -P "$PORT" -b "$WORK/sftp-batch-$2" "$SSH_USER@127.0.0.1"
      else
        printf '%q ' scp -q $r "${SSH_OPTS[@]}" -P "$PORT" "$src" "$SSH_USER@127.0.0.1:$DEST_DIR/"
      fi;;
  esac
}
fresh_dest() {
  if [ "$FRESH" = trash ] && [ -e "$DEST_DIR" ]; then
    mkdir -p "$TRASH"; mv "$DEST_DIR" "$(mktemp -u "$TRASH/run.XXXXXX")"
  else
    rm -rf "$DEST_DIR"
  fi
  install -d -o "$SSH_USER" -g "$SSH_USER" "$DEST_DIR"; sync
}

RPACK_MODE=
if [[ " $TOOLS " == *" rpack "* ]]; then
  fresh_dest
  if [ -x "$RPACK_BIN" ] && (cd "$WORK" && eval "$(build_cmd rpack-build tiny scp)") >"$WORK/rpack-probe.log" 2>&1 && [ "$(check tiny)" = ok ]; then
    RPACK_MODE=rpack-build
  elif [ -x "$XFER_EXAMPLE" ]; then
    RPACK_MODE=rpack-example
    echo "note: '$RPACK_BIN build' could not run the null-builder template (see $WORK/rpack-probe.log);"
    echo "      measuring rpack with examples/xfer.rs (same communicator and file provisioner, no build engine)"
  else
    die "neither '$RPACK_BIN build' works nor $XFER_EXAMPLE exists (cargo build --release --example xfer)"
  fi
fi

# ---- runs ------------------------------------------------------------------------------------
OUT=$WORK/runs/$(date +%Y%m%dT%H%M%S); mkdir -p "$OUT"
RESULTS=$OUT/results.tsv
printf 'tool\tcase\tmethod\trun\twall_s\tmax_rss_kb\trc\tcheck\n' > "$RESULTS"
echo "sshd 127.0.0.1:$PORT, $N run(s) per cell, destination $DEST_DIR ($FRESH), load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load.txt"
for i in $(seq 1 "$N"); do
  for method in $METHODS; do
    for case in $CASES; do
      for tool in $TOOLS; do
        t=$tool; [ "$tool" = rpack ] && t=$RPACK_MODE
        fresh_dest
        log="$OUT/$tool-$case-$method-$i.log"
        cmd=$(build_cmd "$t" "$case" "$method")
        t0=$(date +%s.%N)
        ( cd "$OUT" && eval "/usr/bin/time -v -o $(printf %q "$log.time") $cmd" ) </dev/null >"$log" 2>&1
        rc=$?; t1=$(date +%s.%N)
        wall=$(python3 -c "print(round($t1 - $t0, 3))")
        rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log.time" 2>/dev/null)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$case" "$method" "$i" "$wall" "${rss:-0}" "$rc" "$(check "$case")" | tee -a "$RESULTS"
      done
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"

python3 - "$RESULTS" "$BIG_MIB" "$SMALL_COUNT" "$SMALL_KIB" "${RPACK_MODE:-none}" <<'PY' | tee "$OUT/summary.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
big_mib, count, kib, mode = float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
mib = {"tiny": 1 / 1048576, "big": big_mib, "small": count * kib / 1024}
cells = {}
for r in rows:
    cells.setdefault((r["tool"], r["case"], r["method"]), []).append(r)
med = {k: statistics.median(float(r["wall_s"]) for r in v) for k, v in cells.items()}
print(f"rpack measured with: {mode}")
print("%-7s %-6s %-5s %5s %9s %9s %10s %10s %9s %s" % ("tool", "case", "meth", "runs", "wall_med", "net_med", "MiB/s_net", "MiB/s_wall", "rss_KiB", "checks"))
for (tool, case, m), rs in sorted(cells.items(), key=lambda kv: (kv[0][2], ["tiny", "big", "small"].index(kv[0][1]), kv[0][0])):
    w = med[(tool, case, m)]
    base = med.get((tool, "tiny", m), 0.0)
    net = w - base if case != "tiny" else w
    ok = sum(r["check"] == "ok" and r["rc"] == "0" for r in rs)
    print("%-7s %-6s %-5s %5d %9.3f %9.3f %10s %10s %9d %d/%d ok" % (
        tool, case, m, len(rs), w, net,
        "%.1f" % (mib[case] / net) if case != "tiny" and net > 0 else "-",
        "%.1f" % (mib[case] / w) if case != "tiny" else "-",
        statistics.median(int(r["max_rss_kb"] or 0) for r in rs), ok, len(rs)))
print()
for m in sorted({k[2] for k in med}):
    def get(tool, case):
        return med.get((tool, case, m))
    rb, pb, sb = get("rpack", "big"), get("packer", "big"), get("scp", "big")
    rs_, ps = get("rpack", "small"), get("packer", "small")
    if rb and pb:
        print(f"[{m}] big: rpack throughput = {pb / rb:.2f}x Packer's (wall; target >= 1.5x)")
    if rb and sb:
        print(f"[{m}] big: rpack throughput = {sb / rb:.0%} of OpenSSH scp's (wall; target >= 80%)")
    if rs_ and ps:
        print(f"[{m}] small: rpack time = {rs_ / ps:.3f}x Packer's ({rs_:.3f} s vs {ps:.3f} s; target <= 0.1x)")
PY
echo "details: $OUT"
