#!/usr/bin/env bash
# rpack's main job, end to end, on the local stack: moto plays EC2 and a dedicated OpenSSH sshd
# on loopback plays the instance (it accepts exactly the key pairs of pending/running instances,
# as EC2 injects them). Builds templates/tara-ebcustom-platform.json with `rpack build`, prints
# the AMI, shows that nothing else was left behind, and stops exactly what it started.
#
#   scripts/demo.sh [extra rpack build flags, e.g. -machine-readable]
#
# Needs root (the instance user ec2-user, sshd); installs what it needs via scripts/test-deps.sh.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
case "$target_dir" in /*) ;; *) target_dir="$repo/$target_dir" ;; esac

bash scripts/test-deps.sh >/dev/null
cargo build --quiet --bin rpack
rpack="$target_dir/debug/rpack"
venv="$target_dir/test-venv"

# State outside world-writable /tmp: sshd refuses key commands below such directories.
state="$target_dir/demo"
rm -rf "$state"
mkdir -p "$state"
chmod 0755 "$state"

free_port() { "$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
moto_port=$(free_port)
ssh_port=$(free_port)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

echo "demo: starting moto on 127.0.0.1:$moto_port"
setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$state/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://127.0.0.1:$moto_port/moto-api/" 2>/dev/null && break
  sleep 0.1
done

echo "demo: starting sshd (the instance) on 127.0.0.1:$ssh_port"
ssh-keygen -q -t ed25519 -N '' -f "$state/ssh_host_ed25519_key"
cat >"$state/sshd_config" <<CFG
ListenAddress 127.0.0.1:$ssh_port
HostKey $state/ssh_host_ed25519_key
PidFile none
UsePAM no
AllowUsers ec2-user
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile none
AuthorizedKeysCommand /usr/bin/python3 -I -S $repo/tests/support-py/authorized_keys.py http://127.0.0.1:$moto_port us-east-1 $state %t %k
AuthorizedKeysCommandUser root
Subsystem sftp /usr/lib/openssh/sftp-server
UseDNS no
CFG
mkdir -p /run/sshd
setsid /usr/sbin/sshd -D -e -f "$state/sshd_config" >"$state/sshd.log" 2>&1 &
pids+=($!)
sleep 0.3

# The local "instance" is this machine: the template's local-stack variables point the EB
# builder at a scratch root under ec2-user's home and skip package installs.
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1
export AWS_EB_PLATFORM_NAME=tara-node AWS_EB_PLATFORM_VERSION=1.0.0
export AWS_EB_PLATFORM_ARN=arn:aws:elasticbeanstalk:us-east-1:123456789012:platform/tara-node/1.0.0
export RPACK_STATE_DIR="$state/rpack-state"
cd "$state"
# (moto and sshd run in their own sessions, so a Ctrl-C in the terminal does not stop them.)
# Ctrl-C reaches rpack too, which cancels and cleans up against moto: keep the stack up until
# rpack has exited (the EXIT trap stops it afterwards).
trap 'echo "demo: interrupted; waiting for rpack to clean up"' INT TERM
"$rpack" build \
  -var-file="$repo/templates/tara-local.vars.json" \
  -var "ec2_endpoint=http://127.0.0.1:$moto_port" \
  -var "ssh_port=$ssh_port" \
  "$@" "$repo/templates/tara-ebcustom-platform.json"

ami=$("$venv/bin/python" - "$moto_port" <<'PY'
import boto3, sys
ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1")
imgs = ec2.describe_images(Owners=["self"])["Images"]
live = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"] if i["State"]["Name"] != "terminated"]
kps = ec2.describe_key_pairs()["KeyPairs"]
sgs = [g for g in ec2.describe_security_groups()["SecurityGroups"] if g["GroupName"] != "default"]
for i in imgs:
    print(f"AMI {i['ImageId']} {i['Name']} ({i['State']})")
print(f"left behind: {len(live)} instances, {len(kps)} key pairs, {len(sgs)} security groups")
PY
)
echo "demo: $ami"
